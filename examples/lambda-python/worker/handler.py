"""An SQS batch handler with partial batch responses, as AWS documents it:
nothing in it knows about Strata."""
import json


def process(record):
    order = json.loads(record["body"])
    if order.get("quantity", 0) <= 0:
        raise ValueError("order %s has no quantity" % order.get("id"))
    print("processed order %s x%d (message %s)" % (order["id"], order["quantity"], record["messageId"]))


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            process(record)
        except Exception as e:  # noqa: BLE001 - a failed message is reported, not raised
            print("order failed: %s (message %s, receive %s)" % (e, record["messageId"],
                                                                  record["attributes"]["ApproximateReceiveCount"]))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
