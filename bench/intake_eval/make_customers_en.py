"""Build customers_en.json: one simulated English customer per CFPB complaint narrative.

    .venv/bin/python bench/intake_eval/make_customers_en.py [--csv PATH] [--out PATH]

The CSV is a sample of the Consumer Financial Protection Bureau's public complaint database (100 rows with a
consumer narrative) from the shared test corpus (CSV below, or --csv). Everything else a customer needs
(name, contact, when it happened, what they want, how they open the chat) is drawn with a fixed seed, so the
same CSV always gives the same file. The file is committed: the evaluation does not need the CSV to run.

How the narrative becomes the customer's story:
- dates: CFPB redacts them (``XX/XX/XXXX``). Each customer gets an incident date of their own, said in words
  when asked ("on March 3rd", "last Tuesday", "November 18 at 9:35am"); the dates the narrative names (a
  redaction, a year, a month, a weekday, "three weeks ago", "yesterday") are taken out with the preposition
  before them, so that the story never contradicts the date the customer gives;
- length: the first sentences that fit in about 600 characters (a long chat message; the web chat takes 2,000);
- money ``{$1100.00}`` is written ``$1100.00``; other redactions (``XXXX`` for names and places) are kept.

Products: CFPB's labels are banking and credit products; the bot knows a securities firm's list (bot/README.md).
Each narrative gets the code a complaint handler at the firm would file it under, from its Product, Issue and
Sub-issue (see PRODUCT_RULES): fees and charges are ``fees_commissions``, deposits and withdrawals
``bank_securities_transfer``, opening, closing and reaching an account ``brokerage_account``; credit reports,
debt collection, loans, mortgages and cards have no counterpart and are ``other``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CSV = HERE.parents[2] / "shared" / "corpus" / "complaints" / "cfpb_ccdb_sample_100_narratives.csv"
OUT = HERE / "customers_en.json"
SEED = 20250611
STORY_CHARS = 600

# (product starts with, issue or sub-issue contains) -> product code; the first rule that matches wins.
PRODUCT_RULES: tuple[tuple[str, str, str], ...] = (
    ("", "fee", "fees_commissions"),
    ("Checking or savings account", "overdraft", "fees_commissions"),
    ("Bank account or service", "funds being low", "fees_commissions"),
    ("Checking or savings account", "deposits and withdrawals", "bank_securities_transfer"),
    ("Checking or savings account", "problem accessing account", "brokerage_account"),
    ("Checking or savings account", "closing an account", "brokerage_account"),
    ("Bank account or service", "account opening, closing, or management", "brokerage_account"),
)

# How the customer names the topic when typing it instead of pressing a button.
TOPIC_WORDS = {
    "Credit reporting": "my credit report",
    "Debt collection": "a debt collector",
    "Mortgage": "my mortgage",
    "Credit card": "my credit card",
    "Student loan": "my student loan",
    "Vehicle loan or lease": "my car loan",
    "Payday loan": "a loan",
    "Prepaid card": "a prepaid card",
    "Checking or savings account": "my checking account",
    "Bank account or service": "my bank account",
}
PRODUCT_WORDS = {
    "fees_commissions": "the fees you charged",
    "bank_securities_transfer": "a withdrawal",
    "brokerage_account": "my account",
}

FIRST = ("Maria", "James", "Aisha", "Robert", "Linda", "Carlos", "Jennifer", "Michael", "Tanya", "David", "Keisha",
         "Brian", "Rosa", "Steven", "Emily", "Marcus", "Patricia", "Daniel", "Nicole", "Anthony", "Grace", "Luis",
         "Heather", "Omar", "Susan", "Kevin", "Angela", "Trevor", "Mei", "Samuel")
LAST = ("Gonzalez", "Carter", "Thompson", "Nguyen", "Patel", "Johnson", "O'Brien", "Williams", "Rivera", "Kim",
        "Brown", "Jackson", "Okafor", "Miller", "Davis", "Hernandez", "Walsh", "Chen", "Robinson", "Lopez",
        "Fischer", "Murphy", "Singh", "Baker", "Reyes", "Coleman", "Price", "Ward", "Foster", "Hughes")
MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com")

GREETINGS = ("Hello, I'd like to report a problem", "Hi", "Hello", "Good morning",
             "Hi there, I need to make a complaint", "hello?")
ANGER = ("You people are crooks!", "This is absolutely outrageous. Your company is a joke",
         "I am sick and tired of being ignored by you people!!", "what a scam operation you run",
         "I'm furious. Nobody at your company does their job")
THREATS = ("I'm going to the SEC about this", "I'm reporting you to the CFPB and my lawyer will be in touch",
           "If this isn't fixed today I'm calling the news", "I'm filing a complaint with FINRA about your firm")
QUESTIONS = ("Can you help me?", "Is this where I complain?", "Who do I talk to about a problem with my account?",
             "Can someone please help me with something?")
HEADLINES = ("Complaint: {issue}", "{issue} - I need this sorted", "Problem with {topic}", "complaint about {topic}",
             "RE: {issue}")

DESIRED = {
    "Credit reporting": ("I want the wrong information removed from my credit report",
                         "Please correct my credit report and send me written confirmation"),
    "Debt collection": ("I want the calls to stop and proof that I owe this",
                        "Stop reporting this debt and send me the validation I asked for"),
    "Mortgage": ("I want my payments applied correctly and the late fees reversed",
                 "I want someone to review my loan and call me back"),
    "Credit card": ("I want the charge reversed", "I want my card reinstated and an explanation"),
    "Student loan": ("I want an accurate statement of what I paid", "I want the fees taken off my loan"),
    "Vehicle loan or lease": ("I want my account corrected",),
    "Payday loan": ("I want a fair payment plan",),
    "Prepaid card": ("I want my money back",),
    "Checking or savings account": ("I want my money returned to my account", "I want an apology and a refund"),
    "Bank account or service": ("I want my money back", "I want the bonus I was promised"),
}
REPRESENTATIVES = ("Kevin", "Ms Alvarez", "Mr Dobson", "Tiffany", "Mr Greene", "Ms Park", "Jason", "Mrs Whitfield")
BRANCHES = ("Elm Street", "Riverside", "Maple Avenue", "Downtown Main Street", "Westfield Mall", "Lakeview")

# The incident date as the customer says it, with what it means (resolved against the run's date by the runner).
ABSOLUTE = ("5 March 2025", "March 14, 2025", "September 2nd, 2025", "the 21st of October 2025", "10/21/2025",
            "January 9 2026", "2026-02-17", "June 30th 2025")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_MONTH = (r"(?-i:(?:January|February|March|April|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b\.?|May(?=[\s,]+(?:\d|XX)))")
_DATE = "|".join((
    r"X{2}/X{2}/(?:X{2,4}|\d{2,4})", r"X{4}/X{4}/\S+", r"\d{1,2}/\d{1,2}(?:/\d{2,4})?",
    rf"(?:{_MONTH})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+(?:19|20)\d\d)?", r"X{4},?\s+(?:19|20)\d\d",
    r"(?<![$\d.,])(?:19|20)\d\d(?![\d,]|\.\d)", r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day",
    r"(?:(?:a|one|two|three|four|five|six|a few|several|many|over a|about a|almost a|\d+)\s+)?"
    r"(?:days?|weeks?|months?|years?)\s+ago",
    r"yesterday|today|tonight|tomorrow|recently",
    r"(?:last|this|next)\s+(?:week|month|year|night|weekend|morning|afternoon)",
))
# A date or time the narrative names, with the preposition that leads to it.
DATE_PHRASE = re.compile(
    rf"(?:\b(?:on or about|back in|as of|on|in|since|dated|around|about|by|from|until|through)\s+)?(?:{_DATE})\b",
    re.IGNORECASE)


def sentences(text: str) -> list[str]:
    text = re.sub(r"\{\$([\d,.]+)\}", r"$\1", text)
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [" ".join(p.split()) for p in parts if p.strip()]


def without_dates(sentence: str) -> str:
    """The sentence with every date phrase taken out, tidied (no stray commas, a capital first letter)."""
    text = DATE_PHRASE.sub("", sentence)
    text = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split()))
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text).lstrip(",;: ")
    return text[:1].upper() + text[1:]


def story_of(narrative: str) -> str:
    """The narrative's first sentences, without the dates it names, in at most about STORY_CHARS."""
    story = ""
    for sentence in (without_dates(s) for s in sentences(narrative)):
        if len(re.findall(r"[A-Za-z]+", sentence)) < 3:
            continue  # what is left of a sentence that was only a date
        if story and len(story) + 1 + len(sentence) > STORY_CHARS:
            break
        story = f"{story} {sentence}".strip()
    if len(story) > STORY_CHARS + 200:  # one very long sentence
        story = story[:STORY_CHARS].rsplit(" ", 1)[0] + "..."
    return story


def product_of(row: dict[str, str]) -> str:
    labels = f"{row['Issue']} {row['Sub-issue']}".lower()
    for product, cue, code in PRODUCT_RULES:
        if row["Product"].startswith(product) and cue in labels:
            return code
    return "other"


def family(row: dict[str, str]) -> str:
    """The CFPB product family the row belongs to (the keys of TOPIC_WORDS and DESIRED)."""
    return next(name for name in TOPIC_WORDS if row["Product"].startswith(name))


def incident_time(rng: random.Random) -> dict[str, Any]:
    """When it happened, in the customer's words, and what that means (see the runner's expected_date)."""
    kind = rng.choice(("absolute", "absolute", "month_day", "month_day", "month_day_time", "weekday", "days_ago",
                       "days_ago_time"))
    if kind == "absolute":
        text = rng.choice(ABSOLUTE)
        return {"text": text, "expected": _iso_of(text), "time": None}
    if kind in ("month_day", "month_day_time"):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        ordinal = f"{day}{'th' if 10 <= day <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"
        if kind == "month_day":
            text = rng.choice((f"on {MONTH_NAMES[month - 1]} {ordinal}", f"{MONTH_NAMES[month - 1]} {day}",
                               f"on the {ordinal} of {MONTH_NAMES[month - 1]}"))
            return {"text": text, "expected": f"md:{month:02d}-{day:02d}", "time": None}
        hour, minute = rng.choice(((9, 35), (14, 20), (11, 0), (16, 45), (10, 15), (15, 30)))
        clock = f"{hour % 12 or 12}:{minute:02d}{'am' if hour < 12 else 'pm'}"
        return {"text": f"{MONTH_NAMES[month - 1]} {day} at {clock}", "expected": f"md:{month:02d}-{day:02d}",
                "time": f"{hour:02d}:{minute:02d}"}
    if kind == "weekday":
        weekday = rng.randint(0, 6)
        return {"text": f"last {WEEKDAYS[weekday]}", "expected": f"last_weekday:{weekday}", "time": None}
    if kind == "days_ago":
        days, text = rng.choice(((1, "yesterday"), (2, "two days ago"), (3, "3 days ago"), (0, "this morning")))
        return {"text": text, "expected": f"days_ago:{days}", "time": None}
    days, text, time = rng.choice(((1, "yesterday at about 3pm", "15:00"), (0, "today around 10am", "10:00"),
                                   (1, "yesterday evening at 7:30", "19:30")))
    return {"text": text, "expected": f"days_ago:{days}", "time": time}


def _iso_of(text: str) -> str:
    """The ISO date of one of ABSOLUTE's phrasings."""
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return text
    if m := re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", text):
        return f"{m[3]}-{m[1]}-{m[2]}"
    year = re.search(r"\d{4}", text)
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", text)
    month = next(i for i, name in enumerate(MONTH_NAMES, 1) if name in text)
    assert year and day
    return f"{year[0]}-{month:02d}-{int(day[1]):02d}"


def phone(rng: random.Random) -> dict[str, str]:
    """A phone number as the customer types it, and the number it is (E.164). 555-01xx numbers are fictional."""
    kind = rng.choice(("us", "us", "us_plain", "uk", "hk", "sg"))
    if kind in ("us", "us_plain"):
        area, line = rng.choice(("415", "212", "312", "713", "602", "404")), f"01{rng.randint(0, 99):02d}"
        typed = f"+1 ({area}) 555-{line}" if kind == "us" else f"{area}-555-{line}"
        return {"typed": typed, "e164": f"+1{area}555{line}"}
    typed = {"uk": f"+44 7700 900{rng.randint(100, 999)}",
             "hk": f"+852 9{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
             "sg": f"+65 8{rng.randint(100, 999)} {rng.randint(1000, 9999)}"}[kind]
    return {"typed": typed, "e164": "+" + re.sub(r"\D", "", typed)}


def contact(rng: random.Random, first: str, last: str) -> dict[str, Any]:
    kind = rng.choices(("phone", "email", "none"), weights=(45, 40, 15))[0]
    result: dict[str, Any] = {"kind": kind, "phone": None, "email": None, "email_midway": False,
                              "bare": rng.random() < 0.7}
    if kind == "phone":
        number = phone(rng)
        result["phone"] = number["typed"]
        result["phone_e164"] = number["e164"]
    if kind == "email":
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(10, 99)}",
                            f"{last}.{first[0]}{rng.randint(1, 9)}"))
        result["email"] = f"{re.sub(r'[^a-z0-9.]', '', local.lower())}@{rng.choice(MAIL_DOMAINS)}"
        result["email_midway"] = rng.random() < 0.2
    return result


def opening(rng: random.Random, row: dict[str, str], topic: str) -> dict[str, str]:
    style = rng.choices(("greeting", "headline", "anger", "threat", "question"), weights=(30, 25, 20, 10, 15))[0]
    pick: dict[str, Callable[[], str]] = {
        "greeting": lambda: rng.choice(GREETINGS),
        "headline": lambda: rng.choice(HEADLINES).format(issue=row["Issue"], topic=topic),
        "anger": lambda: rng.choice(ANGER),
        "threat": lambda: rng.choice(THREATS),
        "question": lambda: rng.choice(QUESTIONS),
    }
    return {"style": style, "text": pick[style]()}


def place_and_people(rng: random.Random, row: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None,
                                                                          str]:
    """A branch visit or a named representative for some customers, and the sentence that tells it."""
    branch_like = row["Product"].startswith(("Checking", "Bank account", "Mortgage", "Credit card"))
    if branch_like and rng.random() < 0.35:
        branch, person = rng.choice(BRANCHES), rng.choice(REPRESENTATIVES)
        sentence = (f"I went to your {branch} branch about it and {person} at the desk told me there was nothing "
                    "they could do.")
        return ({"text": f"the {branch} branch", "keys": [branch.split()[0]]},
                {"text": person, "keys": [person.split()[-1]]}, sentence)
    if rng.random() < 0.3:
        person = rng.choice(REPRESENTATIVES)
        sentence = f"When I called, the representative, {person}, hung up on me."
        return None, {"text": f"the representative, {person}", "keys": [person.split()[-1]]}, sentence
    return None, None, ""


def customer(n: int, row: dict[str, str], rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    code, kin = product_of(row), family(row)
    topic = PRODUCT_WORDS.get(code, TOPIC_WORDS[kin])
    place, people, sentence = place_and_people(rng, row)
    story = story_of(row["Consumer complaint narrative"])
    return {
        "id": f"en-{n:03d}",
        "language": "en",
        "script": None,
        "opening": opening(rng, row, topic),
        "name": f"{first} {last}",
        "contact": contact(rng, first, last),
        "thorough": rng.random() < 0.5,
        "facts": {
            "story": f"{story} {sentence}".strip(),
            "product": code,
            "product_words": topic,
            "time": incident_time(rng),
            "place": place,
            "people": people,
            "desired": rng.choice(DESIRED[kin]),
        },
        "source": {"complaint_id": row["Complaint ID"], "product": row["Product"], "issue": row["Issue"],
                   "sub_issue": row["Sub-issue"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with args.csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(SEED)
    customers = [customer(n, row, rng) for n, row in enumerate(rows, 1)]
    args.out.write_text(json.dumps(customers, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(customers)} customers written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
