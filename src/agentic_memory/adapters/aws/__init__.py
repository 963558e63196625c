"""AWS adapters (boto3, mangum): S3 blobs, the SQS queue, Secrets Manager settings and the Lambda handlers.

Imported only by `bootstrap.py` (which chooses them from settings) and by Lambda itself (`handlers.py`).
"""
