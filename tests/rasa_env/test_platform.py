"""The platform client against the platform stand-in: answers, unknown numbers, slowness,
errors, retries and the circuit breaker."""

import unittest
from pathlib import Path
from typing import Any, Dict, List

import aiohttp
import jsonschema
import yaml

from actions.platform import CircuitBreaker, PlatformClient, PlatformUnavailable
from tests.support.platform_standin import (
    CUSTOMER_PHONE,
    PlatformStandIn,
    running_platform_standin,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PlatformClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self._standin_context = running_platform_standin()
        self.platform: PlatformStandIn = await self._standin_context.__aenter__()
        self.clock = FakeClock()
        self.breaker = CircuitBreaker(failures_to_open=3, open_for=30.0, clock=self.clock)
        self.client = self._client(self.platform.token)

    def _client(self, token: str) -> PlatformClient:
        return PlatformClient(
            self.platform.url, token, attempt_timeout=0.3, deadline=0.8, breaker=self.breaker
        )

    async def asyncTearDown(self) -> None:
        await self.client.close()
        await self._standin_context.__aexit__(None, None, None)

    async def test_an_order_with_its_status_items_carrier_tracking_and_delivery_date(self) -> None:
        order = await self.client.order("55123")
        assert order is not None
        self.assertEqual(
            (order.number, order.status, order.carrier, order.tracking_number),
            ("55123", "shipped", "Caribbean Courier", "CCR123456789"),
        )
        self.assertEqual(order.expected_delivery, "2026-12-03")
        self.assertEqual(order.items, [{"name": "Sandals", "quantity": 2}])
        self.assertEqual(order.phone, CUSTOMER_PHONE)

    async def test_an_unknown_number_is_none_not_a_failure(self) -> None:
        self.assertIsNone(await self.client.order("99999"))
        self.assertIsNone(await self.client.refund("55123"))  # an order without a refund
        self.assertIsNone(await self.client.invoices("99999"))
        self.assertEqual(await self.client.recent_orders(phone="+10000000000"), [])
        self.assertEqual(self.breaker.state, "closed")

    async def test_a_refund_invoices_recent_orders_and_an_account(self) -> None:
        refund = await self.client.refund("55001")
        assert refund is not None
        self.assertEqual((refund.status, refund.amount), ("approved", "XCD 45.00"))
        self.assertEqual(refund.expected_date, "2026-12-05")
        [invoice] = await self.client.invoices("55123") or []
        self.assertEqual(invoice.number, "INV-55123")
        self.assertTrue(invoice.pdf_url.endswith("/v1/invoices/INV-55123.pdf"))
        recent = await self.client.recent_orders(phone=CUSTOMER_PHONE)
        self.assertEqual([o.number for o in recent], ["55123", "55001"])  # newest first
        account = await self.client.account(email="keisha@example.com")
        self.assertEqual((account.exists, account.locked), (True, False))
        self.assertEqual(account.masked_email, "k***@example.com")
        self.assertFalse((await self.client.account(phone="+10000000000")).exists)

    async def test_one_server_error_is_retried(self) -> None:
        self.platform.fail_next(1, 502)
        order = await self.client.order("55123")
        assert order is not None
        self.assertEqual(len(self.platform.calls), 2)

    async def test_errors_on_both_attempts_make_it_unavailable(self) -> None:
        self.platform.fail_next(2, 500)
        with self.assertRaises(PlatformUnavailable):
            await self.client.order("55123")
        self.assertEqual(len(self.platform.calls), 2)

    async def test_a_refused_token_is_not_retried(self) -> None:
        client = self._client("not-the-token")
        try:
            with self.assertRaises(PlatformUnavailable):
                await client.order("55123")
        finally:
            await client.close()
        self.assertEqual(len(self.platform.calls), 1)

    async def test_a_slow_platform_is_given_up_on(self) -> None:
        self.platform.slow_down(5.0)
        with self.assertRaises(PlatformUnavailable):
            await self.client.order("55123")

    async def test_a_code_is_sent_to_the_contact_on_file_and_checked(self) -> None:
        sent = await self.client.send_code("55123", "keisha@example.com")
        assert sent is not None
        self.assertEqual(sent.sent_to, "k***@example.com")
        wrong = "000000" if self.platform.last_code() != "000000" else "111111"
        self.assertEqual(await self.client.check_code(sent.verification_id, wrong), "wrong_code")
        code = self.platform.last_code()
        self.assertEqual(await self.client.check_code(sent.verification_id, code), "approved")
        # Used once: the same code is no good again.
        self.assertEqual(await self.client.check_code(sent.verification_id, code), "expired")
        self.assertEqual(await self.client.check_code("no-such-id", code), "expired")

    async def test_a_contact_not_on_file_and_an_unknown_order_are_both_none(self) -> None:
        self.assertIsNone(await self.client.send_code("77777", "keisha@example.com"))
        self.assertIsNone(await self.client.send_code("99999", "keisha@example.com"))
        self.assertEqual(self.platform.codes_sent, [])

    async def test_a_post_is_not_retried(self) -> None:
        # A second attempt could send a second code, or count a try twice.
        self.platform.fail_next(1, 502)
        with self.assertRaises(PlatformUnavailable):
            await self.client.send_code("55123", "keisha@example.com")
        self.assertEqual(len(self.platform.calls), 1)

    async def test_an_answer_outside_the_contract_is_unavailable(self) -> None:
        self.platform.orders["55123"] = {"number": "55123"}  # no status, no phone
        with self.assertRaises(PlatformUnavailable):
            await self.client.order("55123")

    async def test_the_breaker_opens_after_repeated_failures_and_stops_calling(self) -> None:
        self.platform.go_down()
        for _ in range(3):
            with self.assertRaises(PlatformUnavailable):
                await self.client.order("55123")
        self.assertEqual(self.breaker.state, "open")
        calls = len(self.platform.calls)
        with self.assertRaises(PlatformUnavailable):
            await self.client.order("55123")
        self.assertEqual(len(self.platform.calls), calls)  # no request while open

    async def test_half_open_lets_one_trial_through_and_closes_on_success(self) -> None:
        await self._open_the_breaker()
        self.platform.come_back()
        self.clock.now += 30.0
        self.assertEqual(self.breaker.state, "half_open")
        self.assertIsNotNone(await self.client.order("55123"))
        self.assertEqual(self.breaker.state, "closed")

    async def test_a_failed_trial_opens_it_again(self) -> None:
        await self._open_the_breaker()
        self.clock.now += 30.0
        calls = len(self.platform.calls)
        with self.assertRaises(PlatformUnavailable):
            await self.client.order("55123")
        self.assertGreater(len(self.platform.calls), calls)  # the trial went out
        self.assertEqual(self.breaker.state, "open")

    async def _open_the_breaker(self) -> None:
        self.platform.go_down()
        failures: List[Exception] = []
        for _ in range(3):
            try:
                await self.client.order("55123")
            except PlatformUnavailable as error:
                failures.append(error)
        self.assertEqual((len(failures), self.breaker.state), (3, "open"))


CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "platform-api.yaml"


class ContractTest(unittest.IsolatedAsyncioTestCase):
    """The stand-in serves what docs/platform-api.yaml says, so the client is tested against
    the documented contract and not against a private understanding of it."""

    async def test_every_path_answers_with_its_documented_schema(self) -> None:
        contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
        requests = {
            "/v1/orders/{order_number}": ("/v1/orders/55123", {}),
            "/v1/orders/{order_number}/refund": ("/v1/orders/55001/refund", {}),
            "/v1/orders/{order_number}/invoices": ("/v1/orders/55123/invoices", {}),
            "/v1/orders": ("/v1/orders", {"phone": CUSTOMER_PHONE}),
            "/v1/accounts/state": ("/v1/accounts/state", {"email": "keisha@example.com"}),
        }
        posts = [
            "/v1/orders/{order_number}/verifications",
            "/v1/verifications/{verification_id}/checks",
        ]
        self.assertEqual(set(contract["paths"]), set(requests) | set(posts))
        async with running_platform_standin() as platform, aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {platform.token}"}
            for documented, (path, params) in requests.items():
                async with session.get(platform.url + path, params=params, headers=headers) as r:
                    self.assertEqual(r.status, 200, path)
                    body = await r.json()
                answer = contract["paths"][documented]["get"]["responses"]["200"]
                _validate(contract, answer["content"]["application/json"]["schema"], body)
            sent_path = platform.url + "/v1/orders/55123/verifications"
            async with session.post(
                sent_path, json={"contact": "keisha@example.com"}, headers=headers
            ) as r:
                self.assertEqual(r.status, 201)
                sent = await r.json()
            _validate(contract, {"$ref": "#/components/schemas/CodeSent"}, sent)
            check_path = f"{platform.url}/v1/verifications/{sent['verification_id']}/checks"
            async with session.post(check_path, json={"code": "0000"}, headers=headers) as r:
                self.assertEqual(r.status, 200)
                _validate(contract, {"$ref": "#/components/schemas/CodeCheck"}, await r.json())
            async with session.get(platform.url + "/v1/orders/99999", headers=headers) as r:
                self.assertEqual(r.status, 404)
                _validate(contract, {"$ref": "#/components/schemas/Problem"}, await r.json())


def _validate(contract: Dict[str, Any], schema: Dict[str, Any], body: Any) -> None:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; their $refs point into the whole document.
    jsonschema.Draft202012Validator(
        {**schema, "components": contract["components"]},
        format_checker=jsonschema.FormatChecker(),
    ).validate(body)


class BreakerTest(unittest.TestCase):
    def test_half_open_admits_a_single_trial_at_a_time(self) -> None:
        clock = FakeClock()
        breaker = CircuitBreaker(failures_to_open=1, open_for=10.0, clock=clock)
        breaker.failed()
        self.assertFalse(breaker.allow())
        clock.now += 10.0
        self.assertTrue(breaker.allow())
        self.assertFalse(breaker.allow())  # the trial is still out
        breaker.succeeded()
        self.assertTrue(breaker.allow())


if __name__ == "__main__":
    unittest.main()
