"""PII screening: which providers may see each text of a call, and in what form.

Screening runs only where the tenant has a PII policy and the model has an external provider
(internal providers see every text as written). Under ``redact`` a text with PII reaches external
providers only redacted; under ``refuse`` it is kept to internal providers, and refused when the
model has none. No error message or metric names the personal data found, only its kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ragserve.embedding_router.call_state import CallState
from ragserve.embedding_router.config import PiiPolicy, ProviderConfig, TenantConfig
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.pii import PiiScanner
from ragserve.errors import FailedPrecondition


class Route(Enum):
    """How a text may travel, which decides both the providers allowed and the text sent."""

    # Any provider, as written.
    PLAIN = "plain"
    # External providers get the redacted text; internal ones the text as written.
    REDACT = "redact"
    # PII under a refuse policy: internal providers only.
    INTERNAL_ONLY = "internal"

    def allows(self, external: bool) -> bool:
        return not (external and self is Route.INTERNAL_ONLY)


@dataclass(frozen=True, slots=True)
class ScreenedText:
    """A unique text of a call with its route. ``redacted`` is the text itself unless the route
    is :attr:`Route.REDACT`."""

    text: str
    route: Route
    redacted: str

    def as_sent_to(self, external: bool) -> str:
        """The text a provider gets: redacted for an external provider under ``redact``."""
        return self.redacted if external and self.route is Route.REDACT else self.text


class PiiScreen:
    """Routes texts by their tenant's PII policy; one scanner per tenant, built on first use."""

    def __init__(
        self, providers: Mapping[str, Sequence[ProviderConfig]], metrics: RouterMetrics
    ) -> None:
        # Model id -> whether it has an external / an internal provider.
        self._has_external = {m: any(p.external for p in ps) for m, ps in providers.items()}
        self._has_internal = {m: any(not p.external for p in ps) for m, ps in providers.items()}
        self._metrics = metrics
        self._scanners: dict[str, PiiScanner] = {}

    def screen(self, call: CallState, texts: Sequence[str]) -> list[ScreenedText]:
        """One screened text per text, in order; raises FailedPrecondition for a text that must
        stay internal where the model has only external providers."""
        tenant, model = call.tenant, call.model
        if tenant.pii_policy is PiiPolicy.OFF or not self._has_external[model.id]:
            return [ScreenedText(text, Route.PLAIN, text) for text in texts]
        scanner = self._scanner(tenant)
        screened: list[ScreenedText] = []
        for index, text in enumerate(texts):
            clean, kinds = scanner.redact(text)
            if not kinds:
                screened.append(ScreenedText(text, Route.PLAIN, text))
            elif tenant.pii_policy is PiiPolicy.REDACT:
                self._metrics.pii.labels(call.tenant_label, "redacted").inc()
                screened.append(ScreenedText(text, Route.REDACT, clean))
            else:
                self._metrics.pii.labels(call.tenant_label, "kept_internal").inc()
                if not self._has_internal[model.id]:
                    self._metrics.pii.labels(call.tenant_label, "refused").inc()
                    raise FailedPrecondition(
                        f"texts[{index}] contains personal data ({', '.join(kinds)}) and tenant "
                        f"{tenant.id!r} has PII policy 'refuse'; model {model.id!r} has only "
                        "external providers"
                    )
                screened.append(ScreenedText(text, Route.INTERNAL_ONLY, text))
        return screened

    def _scanner(self, tenant: TenantConfig) -> PiiScanner:
        scanner = self._scanners.get(tenant.id)
        if scanner is None:
            scanner = PiiScanner(tenant.pii_patterns)
            self._scanners[tenant.id] = scanner
        return scanner
