"""The scheduled Lambda audit: the engine's report delivered to S3, SNS, Security Hub and
CloudWatch (`handler.handler` is the Lambda entry point named in deploy/template.yaml).

A product on top of the engine; the engine never imports it. It must stay cheap to import
(no rich, no typer): a Lambda cold start pays for every import.
"""
