"""The dashboard end to end: ``consumers.serve`` (API, dashboard and projector in one
process) on a real log, driven by headless Chromium through selenium."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from consumers.serve import embedded_processors, serve
from ledger.demo import DemoWorld
from ledger.events import ApprovalRecorded, GovernanceFinding, PartyRef, Severity, StandardRef
from ledger.publisher import Publisher
from ledger.store import EventStore

CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _publish(url: str, world: DemoWorld, events: list, gateway: list | None = None) -> None:
    async with EventStore.from_url(url) as store:
        async with Publisher(store, world.control_plane) as p, Publisher(store, world.gateway) as g:
            await p.publish_many(events)
            if gateway:
                await g.publish_many(gateway)


class Server:
    """``serve`` on its own thread and event loop, stopped by cancelling it."""

    def __init__(self, log_url: str, views: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, args=(log_url, views), daemon=True)

    def _run(self, log_url: str, views: Path) -> None:
        asyncio.set_event_loop(self._loop)
        ready = asyncio.Event()

        async def main() -> None:
            self._task = asyncio.current_task()
            watcher = asyncio.create_task(ready.wait())
            watcher.add_done_callback(lambda _: self._started.set())
            await serve(log_url, str(views), port=self.port, processors=False, started=ready)

        try:
            self._loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def __enter__(self) -> Server:
        self._thread.start()
        assert self._started.wait(30), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)


@pytest.fixture
def browser() -> Iterator[object]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium and chromedriver are needed (make browser)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"dledger-chromium-{os.getpid()}-{time.monotonic_ns()}"
    options.add_argument(f"--user-data-dir={profile}")
    b = webdriver.Chrome(service=Service(driver), options=options)
    b.set_page_load_timeout(30)
    b.implicitly_wait(10)  # a form submit returns before the next page has loaded
    try:
        yield b
    finally:
        b.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait_for(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_dashboard__owners_findings_chain_viewer_and_live_counts(browser, sqlite_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    world = DemoWorld(start=datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5))
    cp, gw = world.vendor_onboarding()
    finding = GovernanceFinding(
        chain_id="chain-onboard-globex", occurred_at=world.at(), kind="mint_without_approval", severity=Severity.HIGH,
        summary="identity minted without a MINT approval", credential_id="cred-mint-1",
        evidence_event_ids=[cp[5].event_id], accountable=[PartyRef(role="workflow_owner", party_id="procurement-lead@acme")],
        standards=[StandardRef(framework="OWASP NHI Top 10 2025", ref="NHI5")])
    asyncio.run(_publish(sqlite_url, world, world.registry() + cp + [finding], gw))

    with Server(sqlite_url, tmp_path / "views.db") as server:
        _wait_for(lambda: httpx.get(f"{server.base}/api/overview").json()["credentials_issued"] == 3)

        # the overview: live counts and owners
        browser.get(server.base + "/")
        assert browser.find_element(By.ID, "count-issued").text == "3"
        assert browser.find_element(By.ID, "count-findings").text == "1"
        owners = browser.find_element(By.ID, "parties").text
        assert "procurement-lead@acme" in owners and "platform-security@acme" in owners

        # an owner's page lists its role, figures and findings
        browser.find_element(By.LINK_TEXT, "procurement-lead@acme").click()
        assert browser.find_element(By.ID, "party").text == "procurement-lead@acme"
        assert "workflow_owner: wf-vendor-onboarding" in browser.find_element(By.ID, "roles").text
        assert "identity minted without a MINT approval" in browser.find_element(By.ID, "findings").text

        # the chain viewer: a complete chain back to the principal
        browser.get(server.base + "/chain")
        browser.find_element(By.ID, "chain-id").send_keys("cred-delegated-1")
        browser.find_element(By.ID, "chain-go").click()
        assert browser.find_element(By.ID, "chain-status").text == "complete"
        assert "bob@acme" in browser.find_element(By.ID, "principal").text
        links = browser.find_elements(By.CSS_SELECTOR, "li.link")
        assert [li.get_attribute("data-credential") for li in links] == ["cred-act-1", "cred-mint-1", "cred-delegated-1"]

        # new events reach the running dashboard: a credential issued without its approval
        cp2, gw2 = world.invoice_triage()
        asyncio.run(_publish(sqlite_url, world, [e for e in cp2 if not isinstance(e, ApprovalRecorded)], gw2))
        _wait_for(lambda: httpx.get(f"{server.base}/api/overview").json()["credentials_issued"] == 4)
        browser.get(server.base + "/")
        assert browser.find_element(By.ID, "count-issued").text == "4"
        browser.find_element(By.ID, "chain-id").send_keys("cred-invoice-1")
        browser.find_element(By.ID, "chain-go").click()
        assert browser.find_element(By.ID, "chain-status").text == "1 missing link(s)"
        gap = browser.find_element(By.CSS_SELECTOR, ".gap")
        assert gap.get_attribute("data-kind") == "missing_act_approval" and "MISSING" in gap.text

        # the API is read-only and published
        spec = httpx.get(f"{server.base}/openapi.json").json()
        assert "/api/chain/{ident}" in spec["paths"]
        assert all(set(ops) == {"get"} for ops in spec["paths"].values())


def test_serve__hosts_the_embedded_processors(tmp_path: Path) -> None:
    from processors.runner import EmbeddedRunner

    store = EventStore.from_url(f"sqlite:///{tmp_path / 'l.db'}")
    runner = embedded_processors(store, str(tmp_path / "processor.key"))
    assert isinstance(runner, EmbeddedRunner)
    assert (tmp_path / "processor.key").exists()
