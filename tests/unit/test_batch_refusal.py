"""The one rule for selling from a clerk's chosen batch (batches.refusal), used by the preview and the sale alike."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from subsidy.supply.batches import refusal

SALE = {"supplier_id": 1, "product": "briquette", "season_id": 7, "kg": 500}


def batch(**overrides):
    return SimpleNamespace(**{"supplier_id": 1, "product": "briquette", "season_id": 7, "passed": True,
                              "quantity_kg": 1000, "sold_kg": 0, "report_no": "JC-1", "frozen_at": None,
                              **overrides})


def test_a_passed_batch_of_the_product_and_season_with_enough_stock_can_be_sold_from():
    assert refusal(batch(sold_kg=500), **SALE) is None


@pytest.mark.parametrize(("facts", "reason"), [
    (None, "进货批次不存在或不属于本企业"),
    (batch(supplier_id=2), "进货批次不存在或不属于本企业"),
    (batch(product="anthracite"), "该进货批次不是本采暖季的洁净型煤"),
    (batch(season_id=6), "该进货批次不是本采暖季的洁净型煤"),
    (batch(passed=False), "进货批次（检测报告 JC-1）检验不合格，不能销售"),
    (batch(frozen_at=datetime(2026, 12, 1, tzinfo=timezone.utc)),
     "进货批次（检测报告 JC-1）政府抽检不合格，已停止销售，剩余库存已冻结"),
    (batch(sold_kg=501), "进货批次（检测报告 JC-1）库存不足，剩余 0.499 吨"),
])
def test_a_batch_that_cannot_be_sold_from_is_refused_with_the_reason(facts, reason):
    assert refusal(facts, **SALE) == reason
