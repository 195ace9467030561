from django.urls import path

from broker.consumers import BridgeConsumer

websocket_urlpatterns = [path("ws/bridge/", BridgeConsumer.as_asgi())]
