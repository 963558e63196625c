// Progressive enhancement only: every page works without this file.
// Purging dead letters deletes them for good: ask once before the form is sent.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[formaction$='/dead/purge']");
  if (button && !window.confirm("Delete the selected dead letters for good?")) {
    event.preventDefault();
  }
});
