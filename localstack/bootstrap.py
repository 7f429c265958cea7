"""Creates what CAVRA Approvals needs on the AWS emulator, idempotently.

* The approvals table, from table.json beside this file (the same keys and GSIs as
  infra/template.yaml's ApprovalsTable). Name: $CAVRA_APPROVAL_TABLE, default cavra-approvals.
* The provider secret, from secrets.json beside this file (the keys of the template's
  ProviderSecret, with placeholder values). Name: $CAVRA_PROVIDER_SECRET_ID, default
  cavra-approvals/providers. An existing secret keeps its value.

The endpoint is $AWS_ENDPOINT_URL (default http://127.0.0.1:4566), region $AWS_REGION
(default us-east-1), credentials test/test unless set. Run by localstack/start.sh, and by
LocalStack itself as an init hook (docker-compose.yml mounts this file and the two JSON files
into /etc/localstack/init/ready.d/).
"""

import json
import os
import pathlib
import sys
import time

import boto3
from botocore.exceptions import ClientError

HERE = pathlib.Path(__file__).resolve().parent


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def create_table(dynamodb, name):
    definition = json.loads((HERE / "table.json").read_text())
    try:
        dynamodb.create_table(TableName=name, **definition)
        print(f"bootstrap: created table {name}")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        print(f"bootstrap: table {name} exists")
    for _ in range(100):
        status = dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.1)
    sys.exit(f"bootstrap: table {name} is not ACTIVE")


def create_secret(secretsmanager, name):
    value = (HERE / "secrets.json").read_text()
    json.loads(value)  # fail early on a malformed file
    try:
        secretsmanager.create_secret(
            Name=name,
            Description="CAVRA Approvals provider credentials (local placeholders)",
            SecretString=value,
        )
        print(f"bootstrap: created secret {name}")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        print(f"bootstrap: secret {name} exists")


def main():
    create_table(client("dynamodb"), os.environ.get("CAVRA_APPROVAL_TABLE") or "cavra-approvals")
    create_secret(
        client("secretsmanager"),
        os.environ.get("CAVRA_PROVIDER_SECRET_ID") or "cavra-approvals/providers",
    )


if __name__ == "__main__":
    main()
