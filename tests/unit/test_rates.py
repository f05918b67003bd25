from genosd.metrics.rates import CounterRates, counter_delta, device_rebooted


def test_counter32_wrap_is_counted_as_traffic():
    assert counter_delta(2**32 - 100, 50, 32) == 150


def test_counter64_going_down_is_a_discontinuity_not_a_wrap():
    assert counter_delta(1000, 10, 64) is None


def test_uptime_going_back_is_a_reboot():
    assert device_rebooted(old_ticks=500_000, new_ticks=1_000, elapsed_s=60)


def test_uptime_wrap_after_497_days_is_not_a_reboot():
    old = 2**32 - 3000  # 30 s before the TimeTicks wrap
    assert not device_rebooted(old_ticks=old, new_ticks=3000, elapsed_s=60)


def test_rates_after_reboot_are_skipped_then_resume():
    rates = CounterRates()
    assert not rates.observe_uptime("r1", 0.0, 100_000)
    assert rates.rates("r1", "1", 0.0, 100_000, {"ifHCInOctets": (10_000, 64)}, False) == {}
    rebooted = rates.observe_uptime("r1", 10.0, 50)
    assert rebooted
    assert rates.rates("r1", "1", 10.0, 50, {"ifHCInOctets": (5, 64)}, rebooted) == {}
    assert not rates.observe_uptime("r1", 20.0, 1050)
    assert rates.rates("r1", "1", 20.0, 1050, {"ifHCInOctets": (1005, 64)}, False) == {
        "ifHCInOctets": 100.0
    }


def test_rate_over_a_32bit_wrap():
    rates = CounterRates()
    rates.rates("r1", "1", 0.0, 0, {"ifInOctets": (2**32 - 500, 32)}, False)
    assert rates.rates("r1", "1", 5.0, 500, {"ifInOctets": (500, 32)}, False) == {
        "ifInOctets": 200.0
    }
