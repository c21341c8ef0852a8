"""Cloud adapters: one package per cloud, each importing its SDK lazily.

Nothing in the core imports these packages; the cloud entry points in
``functions/<cloud>/`` do, and only they pull in boto3 / google / azure.
"""
