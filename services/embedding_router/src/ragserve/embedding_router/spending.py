"""Budgets and charges: which providers a tenant can afford for a call, and charging what was
computed (metrics and the shared ledger). The ledger itself (Redis, failing open) is
:mod:`ragserve.embedding_router.budget`."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter

from ragserve.embedding_router.budget import BudgetLedger
from ragserve.embedding_router.call_state import CallState, Computed
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.provider_runtime import ProviderRuntime
from ragserve.embedding_router.tokens import cost_of
from ragserve.errors import ResourceExhausted


class Spending:
    def __init__(self, ledger: BudgetLedger, metrics: RouterMetrics) -> None:
        self.ledger = ledger
        self._metrics = metrics
        # Label children, made once per (tenant label, provider) rather than once per call.
        self._charge_metrics: dict[tuple[str, str], tuple[Counter, Counter]] = {}

    async def affordable(
        self, call: CallState, ordered: list[ProviderRuntime], tokens: int
    ) -> list[ProviderRuntime]:
        """The providers of ``ordered`` (best first) that the tenant can pay ``tokens`` on.

        Without a budget, all of them. Over budget on the preferred provider, the cheaper ones
        only where the tenant allows a cheaper fallback; else ResourceExhausted with the time to
        the daily reset.
        """
        tenant = call.tenant
        budget = tenant.daily_budget
        if budget is None:
            return ordered
        spent = await self.ledger.spent_today(tenant.id)
        affordable = [
            r for r in ordered if spent + cost_of(tokens, r.config.price_per_1k_tokens) <= budget
        ]
        if affordable and (affordable[0] is ordered[0] or tenant.allow_cheaper_fallback):
            return affordable
        preferred = ordered[0]
        needed = cost_of(tokens, preferred.config.price_per_1k_tokens)
        self._metrics.budget_refusals.labels(call.tenant_label).inc()
        raise ResourceExhausted(
            f"tenant {tenant.id!r} is over its daily budget of {budget:.4f}: spent {spent:.4f} "
            f"today and this call needs {needed:.4f} on provider {preferred.id!r} "
            f"(model {call.model.id!r}); the budget resets at 00:00 UTC",
            retry_after_s=self.ledger.seconds_until_reset(),
        )

    async def charge(self, call: CallState, provider_id: str, computed: Sequence[Computed]) -> None:
        """Count the tokens and cost of texts one provider computed for the call."""
        cost = sum(c.cost for c in computed)
        tokens = sum(c.tokens for c in computed)
        if tokens:
            tokens_metric, cost_metric = self._charge_metric(call.tenant_label, provider_id)
            tokens_metric.inc(tokens)
            if cost:
                cost_metric.inc(cost)
        if cost:
            await self.ledger.charge(call.tenant.id, cost)

    def _charge_metric(self, tenant_label: str, provider_id: str) -> tuple[Counter, Counter]:
        children = self._charge_metrics.get((tenant_label, provider_id))
        if children is None:
            children = (
                self._metrics.tokens.labels(tenant_label, provider_id),
                self._metrics.cost.labels(tenant_label, provider_id),
            )
            self._charge_metrics[(tenant_label, provider_id)] = children
        return children
