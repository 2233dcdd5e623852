"""Drives the local API with a client generated from openapi.yaml (openapi-python-client), as a
user's code would: every route, the answers parsed into the generated models (a field the document
does not describe, or a shape it gets wrong, fails here), and an event delivered through the engine
to the local receiver, then found in the endpoint's history. Run by scripts/client-check."""

import sys
import time
import uuid

from webhook_endpoints_client import AuthenticatedClient
from webhook_endpoints_client.api.deliveries import list_deliveries, ping_webhook
from webhook_endpoints_client.api.endpoints import (
    create_webhook, delete_webhook, get_webhook, list_webhooks, rotate_webhook_secret, update_webhook,
)
from webhook_endpoints_client.api.events import get_event, list_event_types, list_events, publish_event
from webhook_endpoints_client.models import (
    CreateEndpoint, CreatedEndpointEnvelope, DeliveryEnvelope, DeliveryPageEnvelope, EndpointEnvelope,
    EndpointPageEnvelope, ErrorEnvelope, EventEnvelope, EventPageEnvelope, PublishEvent, RotatedSecretEnvelope,
    UpdateEndpoint,
)

api, key, receiver = sys.argv[1], sys.argv[2], sys.argv[3]
client = AuthenticatedClient(base_url=api, token=key)
app = "acme"
calls = 0


def call(module, expected_status, expected_type, *args, **kwargs):
    """One call: the status and the parsed model are the documented ones."""
    global calls
    calls += 1
    response = module.sync_detailed(*args, client=client, **kwargs)
    assert response.status_code == expected_status, f"{module.__name__}: {response.status_code} {response.content!r}"
    assert isinstance(response.parsed, expected_type), f"{module.__name__}: parsed as {type(response.parsed)}"
    return response.parsed


catalogue = call(list_event_types, 200, object, app).data
assert "invoice.paid" in catalogue and catalogue == sorted(catalogue), catalogue
created = call(create_webhook, 201, CreatedEndpointEnvelope, app,
               body=CreateEndpoint.from_dict({"url": f"{receiver}/client-check", "events": ["invoice.*"]})).data
webhook_id = created.id
assert created.secret.startswith("whsec_")
assert call(get_webhook, 200, EndpointEnvelope, app, webhook_id).data.url == f"{receiver}/client-check"
page = call(list_webhooks, 200, EndpointPageEnvelope, app, limit=100)
assert any(e.id == webhook_id for e in page.data)
updated = call(update_webhook, 200, EndpointEnvelope, app, webhook_id,
               body=UpdateEndpoint.from_dict({"description": "from the generated client"})).data
assert updated.description == "from the generated client"
assert call(rotate_webhook_secret, 200, RotatedSecretEnvelope, app, webhook_id).data.secret.startswith("whsec_")
ping = call(ping_webhook, 200, DeliveryEnvelope, app, webhook_id).data
assert ping.trigger == "test" and ping.event_id is None and ping.attempt == 1, ping

published = call(publish_event, 202, EventEnvelope, app,
                 body=PublishEvent.from_dict({"type": "invoice.paid", "data": {"amount": 42}}))
event_id = published.data.id
assert call(get_event, 200, EventEnvelope, app, event_id).data.type_ == "invoice.paid"
assert any(e.id == event_id for e in call(list_events, 200, EventPageEnvelope, app).data)

# The engine delivers it to the local receiver; the attempt appears in the history.
deadline = time.time() + 15
while True:
    history = call(list_deliveries, 200, DeliveryPageEnvelope, app, webhook_id).data
    delivered = [d for d in history if d.event_id == event_id]
    if delivered:
        break
    assert time.time() < deadline, f"event {event_id} not delivered within 15 s: {history}"
    time.sleep(0.2)
record = delivered[0]
assert (record.status, record.attempt, record.trigger, record.response_status) == ("succeeded", 1, "scheduled", 200), record

# Errors parse as the envelope, with their codes.
missing = call(get_webhook, 404, ErrorEnvelope, app, uuid.uuid4())
assert missing.error.code == "not_found"
bad = call(create_webhook, 400, ErrorEnvelope, app,
           body=CreateEndpoint.from_dict({"url": "http://insecure.example.com", "events": ["*"]}))
assert bad.error.code == "invalid_url", bad.error.code
assert call(delete_webhook, 204, type(None), app, webhook_id) is None
print(f"generated client: {calls} calls, every answer parsed as documented; event {event_id} delivered and recorded")
