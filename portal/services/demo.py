"""The demo tenant `make run` seeds: three users and one script of each type."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Tenant
from portal.services import accounts, scripts
from portal.services.rbac import Actor, Role
from portal.services.scope import in_system

SLUG = "demo"
PASSWORD = "demo-password"
USERS = [("admin@demo.test", Role.ORG_ADMIN), ("dev@demo.test", Role.DEVELOPER), ("viewer@demo.test", Role.VIEWER)]
SCRIPTS = [
    {"name": "Every minute", "type": "scheduled", "cron_expression": "* * * * *", "timezone": "Asia/Tashkent",
     "description": "Fires every minute while the worker runs.",
     "source": "async function main(input, ctx) {\n  console.log('tick for', ctx.trigger.scheduledAt);\n"
               "  return {scheduledAt: ctx.trigger.scheduledAt};\n}\n"},
    {"name": "Order webhook", "type": "http", "http_path": "orders", "http_methods": ["POST"],
     "description": "Receives orders from the shop and announces each as paid.",
     "source": "async function handler(request, ctx) {\n  const order = request.body || {};\n"
               "  console.log('order received', order.id);\n"
               "  await ctx.events.publish('order.paid', {orderId: order.id, amount: order.amount || 0});\n"
               "  return {status: 201, headers: {'content-type': 'application/json'},\n"
               "          body: {received: order.id}};\n}\n"},
    {"name": "On order paid", "type": "event", "event_patterns": ["order.paid"],
     "description": "Reacts to paid orders.",
     "source": "async function onEvent(event, ctx) {\n  const order = event.payload || {};\n"
               "  console.info('paid', order.orderId, order.amount);\n  return {thanked: order.orderId};\n}\n"},
    {"name": "Hello world", "type": "oneoff", "description": "Run me from the editor.",
     "source": "function main(input, ctx) {\n  console.log('hello', input && input.name);\n"
               "  return {greeting: `Hello, ${(input && input.name) || 'world'}!`};\n}\n"},
    {"name": "Price calculator", "type": "embedded", "description": "Called by the host application.",
     "source": "function main(input) {\n  const net = input.items.reduce((s, i) => s + i.price * i.qty, 0);\n"
               "  return {net, vat: Math.round(net * 0.12 * 100) / 100};\n}\n"},
]


@in_system
def seed() -> list[tuple[str, str]] | None:
    """Create the demo data unless it exists; returns the users created."""
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == SLUG)):
        return None
    system = Actor.system()
    tenant = accounts.create_tenant(system, SLUG, "Demo Org")
    users = [accounts.create_user(system, tenant.id, email, PASSWORD, role.value) for email, role in USERS]
    admin = Actor.of(users[0])
    for data in SCRIPTS:
        script = scripts.create(admin, tenant.id, data)
        scripts.set_status(admin, tenant.id, script.id, "active")
    return [(user.email, user.role) for user in users]
