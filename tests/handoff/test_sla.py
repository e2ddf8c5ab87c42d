"""Deadlines on real calendars.

Every expected date below was read off the published 2026 schedules (and checked against
``chinese_calendar`` / ``holidays``), not computed with the code under test:

- CN Spring Festival: off Sun 15 Feb to Mon 23 Feb; Sat 14 Feb and Sat 28 Feb are working days.
- CN Mid-Autumn: off Fri 25 Sep. National Day: off Thu 1 Oct to Wed 7 Oct; Sun 20 Sep and Sat 10 Oct
  are working days.
- England: Good Friday 3 Apr, Easter Monday 6 Apr, early May bank holiday Mon 4 May; BST from Sun 29 Mar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff import sla
from handoff.sla import Deadlines, Period, SlaPolicy, urgency

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")


def cn(year: int, month: int, day: int, hour: int = 18) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


def uk(year: int, month: int, day: int, hour: int = 17) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=LONDON)


def due(deadlines: Deadlines) -> tuple[datetime, datetime, datetime]:
    return deadlines.acknowledge_by, deadlines.investigate_by, deadlines.respond_by


# --- mainland China -------------------------------------------------------------------------------------


def test_default_policy_is_the_cn_securities_preset() -> None:
    assert SlaPolicy() == SlaPolicy.preset("cn-securities")
    assert SlaPolicy().name == "cn-securities"


def test_complaint_received_in_the_spring_festival_holiday_starts_on_the_first_working_day_after() -> None:
    for received in (cn(2026, 2, 15, 10), cn(2026, 2, 18, 10), cn(2026, 2, 23, 10)):
        assert due(SlaPolicy().deadlines(received)) == (cn(2026, 2, 24), cn(2026, 2, 26), cn(2026, 2, 27))


def test_make_up_saturday_before_spring_festival_is_a_working_day() -> None:
    # Fri 13 Feb is day 1, Sat 14 Feb day 2, then the holiday: day 3 is Tue 24 Feb.
    assert due(SlaPolicy().deadlines(cn(2026, 2, 13, 10))) == (cn(2026, 2, 13), cn(2026, 2, 24), cn(2026, 2, 25))
    # Received on the make-up Saturday itself: it is day 1.
    assert due(SlaPolicy().deadlines(cn(2026, 2, 14, 10))) == (cn(2026, 2, 14), cn(2026, 2, 25), cn(2026, 2, 26))


def test_make_up_saturday_after_spring_festival_is_a_working_day() -> None:
    # Thu 26, Fri 27, Sat 28 Feb (make-up), Mon 2 Mar.
    assert due(SlaPolicy().deadlines(cn(2026, 2, 26, 10))) == (cn(2026, 2, 26), cn(2026, 2, 28), cn(2026, 3, 2))


def test_make_up_sunday_before_national_day_is_a_working_day() -> None:
    # Fri 18 Sep, Sun 20 Sep (make-up; Sat 19 is off), Mon 21, Tue 22.
    assert due(SlaPolicy().deadlines(cn(2026, 9, 18, 10))) == (cn(2026, 9, 18), cn(2026, 9, 21), cn(2026, 9, 22))


def test_mid_autumn_friday_is_skipped() -> None:
    # Thu 24 Sep, then Fri 25 (Mid-Autumn) and the weekend off: Mon 28, Tue 29, Wed 30.
    assert due(SlaPolicy().deadlines(cn(2026, 9, 24, 10))) == (cn(2026, 9, 24), cn(2026, 9, 29), cn(2026, 9, 30))


def test_national_day_week_is_skipped_and_make_up_saturday_counts() -> None:
    # Wed 30 Sep, then 1-7 Oct off: Thu 8, Fri 9, Sat 10 (make-up).
    assert due(SlaPolicy().deadlines(cn(2026, 9, 30, 15))) == (cn(2026, 9, 30), cn(2026, 10, 9), cn(2026, 10, 10))
    # Received during the holiday: Thu 8, Fri 9, Sat 10, Mon 12 (Sun 11 is off).
    assert due(SlaPolicy().deadlines(cn(2026, 10, 3, 10))) == (cn(2026, 10, 8), cn(2026, 10, 10), cn(2026, 10, 12))


def test_complaint_after_end_of_day_starts_on_the_next_working_day() -> None:
    # Tuesday 17 Nov 2026, an ordinary week.
    assert due(SlaPolicy().deadlines(cn(2026, 11, 17, 17).replace(minute=59))) == (
        cn(2026, 11, 17), cn(2026, 11, 19), cn(2026, 11, 20),
    )
    after = (cn(2026, 11, 18), cn(2026, 11, 20), cn(2026, 11, 23))
    assert due(SlaPolicy().deadlines(cn(2026, 11, 17, 18))) == after  # "before 18:00" means strictly before
    assert due(SlaPolicy().deadlines(cn(2026, 11, 17, 18).replace(minute=30))) == after
    # After hours on Friday 13 Feb: the next working day is the make-up Saturday.
    assert due(SlaPolicy().deadlines(cn(2026, 2, 13, 19))) == (cn(2026, 2, 14), cn(2026, 2, 25), cn(2026, 2, 26))


def test_end_of_day_is_configurable() -> None:
    policy = SlaPolicy(end_of_day=time(16, 0))
    assert due(policy.deadlines(cn(2026, 11, 17, 16).replace(minute=30))) == (
        datetime(2026, 11, 18, 16, 0, tzinfo=SHANGHAI),
        datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI),
        datetime(2026, 11, 23, 16, 0, tzinfo=SHANGHAI),
    )


def test_utc_timestamp_that_is_already_tomorrow_in_shanghai() -> None:
    # 17:00 UTC on Thu 19 Nov is 01:00 on Fri 20 Nov in Shanghai: Fri 20, Mon 23, Tue 24, Wed 25.
    deadlines = SlaPolicy().deadlines(datetime(2026, 11, 19, 17, 0, tzinfo=UTC))
    assert due(deadlines) == (cn(2026, 11, 20), cn(2026, 11, 24), cn(2026, 11, 25))
    assert deadlines.respond_by.isoformat() == "2026-11-25T18:00:00+08:00"


def test_years_chinese_calendar_does_not_know_fall_back_to_holidays(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown_year(day: date) -> bool:
        raise NotImplementedError(f"no available data for year {day.year}")

    monkeypatch.setattr(sla.chinese_calendar, "is_workday", unknown_year)
    # ``holidays`` knows the same 2026 Spring Festival, make-up Saturday included.
    assert due(SlaPolicy().deadlines(cn(2026, 2, 13, 10))) == (cn(2026, 2, 13), cn(2026, 2, 24), cn(2026, 2, 25))


def test_a_year_beyond_chinese_calendar_data_does_not_crash() -> None:
    # 2030 is past chinese_calendar 1.11's data; 1-3 October are National Day in every schedule.
    deadlines = SlaPolicy().deadlines(cn(2030, 10, 1, 10))
    assert deadlines.acknowledge_by.date() > date(2030, 10, 3)


# --- other calendars ------------------------------------------------------------------------------------


def test_other_countries_use_the_holidays_package() -> None:
    assert not SlaPolicy(country="GB", subdivision="ENG").is_working_day(date(2026, 4, 3))  # Good Friday
    assert not SlaPolicy(country="US").is_working_day(date(2026, 7, 3))  # Independence Day, observed
    assert not SlaPolicy(country="HK").is_working_day(date(2026, 2, 17))  # Lunar New Year
    assert SlaPolicy(country="HK").is_working_day(date(2026, 2, 16))
    assert not SlaPolicy(country="GB").is_working_day(date(2026, 4, 4))  # a Saturday
    assert SlaPolicy().is_working_day(date(2026, 2, 14))  # CN make-up Saturday


def test_unknown_country_or_subdivision_is_rejected_when_the_policy_is_built() -> None:
    with pytest.raises(ValueError, match="XX"):
        SlaPolicy(country="XX")
    with pytest.raises(ValueError, match="ZZZ"):
        SlaPolicy(country="GB", subdivision="ZZZ")
    with pytest.raises(ValueError, match="time zone"):
        SlaPolicy(timezone="Mars/Olympus")


def test_uk_psd_fifteen_business_days_skip_easter() -> None:
    # Received Thu 2 Apr; the count starts the day after: Good Friday and Easter Monday are off, so
    # Tue 7 Apr is day 1 and Mon 27 Apr day 15.
    deadlines = SlaPolicy.preset("uk-fca-psd").deadlines(uk(2026, 4, 2, 11))
    assert due(deadlines) == (uk(2026, 4, 7), uk(2026, 4, 27), uk(2026, 4, 27))
    assert deadlines.respond_by.isoformat() == "2026-04-27T17:00:00+01:00"


def test_uk_psd_fifteen_business_days_skip_the_early_may_bank_holiday() -> None:
    # Received Wed 15 Apr: Thu 16 is day 1, Fri 1 May day 12, Mon 4 May is off, Thu 7 May day 15.
    deadlines = SlaPolicy.preset("uk-fca-psd").deadlines(uk(2026, 4, 15, 9))
    assert due(deadlines) == (uk(2026, 4, 16), uk(2026, 5, 7), uk(2026, 5, 7))


def test_uk_disp_final_response_within_eight_weeks() -> None:
    # Received Thu 2 Apr (before Easter): acknowledge by Tue 7 Apr, respond 56 days later, Thu 28 May.
    deadlines = SlaPolicy.preset("uk-fca-disp").deadlines(uk(2026, 4, 2, 11))
    assert due(deadlines) == (uk(2026, 4, 7), uk(2026, 5, 28), uk(2026, 5, 28))
    # Received Mon 2 Mar in GMT, due Mon 27 Apr in BST, still at 17:00 London time.
    deadlines = SlaPolicy.preset("uk-fca-disp").deadlines(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert deadlines.acknowledge_by.isoformat() == "2026-03-03T17:00:00+00:00"
    assert deadlines.respond_by.isoformat() == "2026-04-27T17:00:00+01:00"


# --- hours ----------------------------------------------------------------------------------------------


def test_48_hours_from_friday_evening_is_sunday_evening() -> None:
    deadlines = SlaPolicy.preset("48-hours").deadlines(datetime(2026, 11, 20, 19, 30, tzinfo=SHANGHAI))
    sunday = datetime(2026, 11, 22, 19, 30, tzinfo=SHANGHAI)
    assert due(deadlines) == (sunday, sunday, sunday)


def test_hours_are_elapsed_time_across_a_clock_change() -> None:
    # Fri 27 Mar 20:00 GMT + 48 h = Sun 29 Mar 20:00 UTC, which is 21:00 BST on the wall clock.
    policy = SlaPolicy.preset("48-hours", timezone="Europe/London")
    deadlines = policy.deadlines(uk(2026, 3, 27, 20))
    assert deadlines.respond_by.isoformat() == "2026-03-29T21:00:00+01:00"


# --- presets, periods, output ---------------------------------------------------------------------------


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown SLA preset 'uk-fca'") as caught:
        SlaPolicy.preset("uk-fca")
    for name in ("cn-securities", "48-hours", "uk-fca-disp", "uk-fca-psd"):
        assert name in str(caught.value)


def test_preset_overrides_keep_the_preset_name() -> None:
    policy = SlaPolicy.preset("uk-fca-psd", respond=Period(35))
    assert policy.name == "uk-fca-psd"
    assert policy.respond == Period(35)
    assert policy.country == "GB"


def test_periods_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Period(0)
    with pytest.raises(ValueError, match="unknown period unit"):
        Period(2, "weeks")  # type: ignore[arg-type]


def test_naive_received_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SlaPolicy().deadlines(datetime(2026, 11, 19, 10, 0))


def test_to_dict_names_the_policy() -> None:
    assert SlaPolicy.preset("uk-fca-psd").deadlines(uk(2026, 4, 2, 11)).to_dict() == {
        "acknowledge_by": "2026-04-07T17:00:00+01:00",
        "investigate_by": "2026-04-27T17:00:00+01:00",
        "respond_by": "2026-04-27T17:00:00+01:00",
        "policy": "uk-fca-psd",
    }


# --- urgency --------------------------------------------------------------------------------------------


def test_urgency() -> None:
    deadline = cn(2026, 11, 20)
    assert urgency(deadline, deadline + timedelta(minutes=1)) == "overdue"
    assert urgency(deadline, deadline) == "due_soon"
    assert urgency(deadline, deadline - timedelta(hours=4)) == "due_soon"
    assert urgency(deadline, deadline - timedelta(hours=4, seconds=1)) == "on_time"
    assert urgency(deadline, deadline - timedelta(hours=5), soon=timedelta(hours=6)) == "due_soon"
    # The clocks may be in different zones: 10:01 UTC is 18:01 in Shanghai.
    assert urgency(deadline, datetime(2026, 11, 20, 10, 1, tzinfo=UTC)) == "overdue"
