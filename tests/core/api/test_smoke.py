import pytest

pytestmark = pytest.mark.creator_plugins()


async def test_health_and_ready(creator_platform):
    r = await creator_platform.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await creator_platform.client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}
