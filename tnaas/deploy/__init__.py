"""Deployment bundles: the AWS Lambda zip (`lambda_zip`). Build-time only: nothing here is
imported while serving."""
