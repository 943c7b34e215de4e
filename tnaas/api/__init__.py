"""TNaaS over HTTP: the FastAPI `app` (uvicorn: `python -m tnaas serve`) and the AWS Lambda `handler`.

Importing `tnaas` does not import this package (nor FastAPI); importing it builds the app.
"""

from tnaas.api.app import app, create_app
from tnaas.api.lambda_handler import handler
from tnaas.api.settings import Settings

__all__ = ["Settings", "app", "create_app", "handler"]
