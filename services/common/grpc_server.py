"""A ``grpc.aio`` server with the standard health service and server reflection already added."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

# ``add_XServicer_to_server`` style registration, bound to its servicer.
Registration = Callable[[grpc.aio.Server], None]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def build_grpc_server(
    registrations: Sequence[Registration],
    service_names: Sequence[str],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, health_aio.HealthServicer]:
    """Create the server, register the services, health (all SERVING) and reflection.

    ``service_names`` are the full proto names (``DESCRIPTOR.services_by_name[...].full_name``).
    The caller binds a port (``server.add_insecure_port``) and starts it.
    """
    server = grpc.aio.server(
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    for register in registrations:
        register(server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    return server, health_servicer


async def mark_serving(health_servicer: health_aio.HealthServicer, names: Sequence[str]) -> None:
    """Report SERVING for the overall server ("") and for each named service."""
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def mark_not_serving(health_servicer: health_aio.HealthServicer) -> None:
    """Flip every status to NOT_SERVING (called when shutting down)."""
    await health_servicer.enter_graceful_shutdown()
