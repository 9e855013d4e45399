"""One-off generator of the illustrative GODS-format corpus shipped with dlplayground (seed 2024).

Texts are composed from hand-written sentences; about a third borrow one sentence from a neighbouring
class and half add a sentence common to all classes, so the
task is not trivially separable. Nothing here comes from the real competition data.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

rng = random.Random(2024)
PRIOR = {"depression": 0.45, "anxiety": 0.30, "alcohol": 0.15, "drugs": 0.10}
CONFUSER = {"depression": ["anxiety", "alcohol"], "anxiety": ["depression"], "alcohol": ["drugs", "depression"],
            "drugs": ["alcohol", "anxiety"]}
OPENERS = ["I'm a first-year student.", "I'm in my second year at university.",
           "It got worse when the semester started.", "This has been going on for months.",
           "It has been getting worse lately.", "I don't usually post here.", "My roommate noticed something.",
           "I'm a final-year student living off campus.", "This is hard to write.", "I study engineering."]
CLOSERS = ["Any advice?", "Please help.", "Is this normal?", "Who can I talk to?", "What should I do?",
           "I don't know where to start.", "Thanks for reading.", "", "", ""]
GENERIC_TITLES = ["Need advice", "Help please", "Struggling", "Is this normal?", "Not sure what to do",
                  "Long post, sorry", "Campus life", "Question", "Feeling stuck", "Please read"]
TITLES = {
    "depression": ["Feeling empty", "No motivation anymore", "Everything feels grey", "Can't get out of bed",
                   "Lost interest in everything", "Feeling worthless", "Always tired and sad"],
    "anxiety": ["Panic attacks before exams", "Constant worry", "Heart racing all the time", "Overthinking",
                "Scared of presentations", "Nervous all the time", "Chest feels tight"],
    "alcohol": ["Drinking too much", "Can't stop after one drink", "Hangovers every weekend",
                "Is my drinking a problem?", "Beer every night", "Drinking alone"],
    "drugs": ["Smoking weed every day", "Pills to stay awake", "Can't quit smoking bhang",
              "Withdrawal is hard", "Friends pressure me to get high", "Addicted to painkillers"],
}
SENTENCES = {
    "depression": ["I feel empty most days.", "I have no motivation to do anything.",
                   "I can't get out of bed in the morning.", "I lost interest in things I used to enjoy.",
                   "Everything feels hopeless.", "I sleep all day and still feel tired.",
                   "I keep crying for no reason.", "I feel worthless compared to my classmates.",
                   "Nothing makes me happy anymore.", "I skip classes because I feel numb.",
                   "I stopped replying to my friends.", "My family thinks I am lazy but I just feel sad.",
                   "I don't see the point of studying anymore.", "The sadness does not go away."],
    "anxiety": ["My heart races before every exam.", "I get panic attacks in the lecture hall.",
                "I worry about everything all the time.", "I can't stop overthinking small things.",
                "My hands get sweaty when I have to speak in class.", "My chest feels tight when I am stressed.",
                "I am afraid of failing and it keeps me awake.", "I feel nervous even when nothing is wrong.",
                "I avoid group work because I am scared of being judged.",
                "I can't breathe properly when the deadline gets close.",
                "I check my answers again and again.", "The fear comes out of nowhere."],
    "alcohol": ["I drink beer every night to relax.", "I can't stop after one drink.",
                "I wake up with a hangover most weekends.", "I have started drinking alone in my room.",
                "I spend my allowance on alcohol.", "I had a blackout at a party last week.",
                "I drink whisky before going out.", "My friends say I drink too much.",
                "I promised to cut down on drinking but I failed.", "I feel shaky in the morning until I drink."],
    "drugs": ["I smoke weed every day.", "I take pills to stay awake and study.",
              "I can't quit smoking bhang.", "The withdrawal makes me irritable.",
              "My friends pressure me to get high with them.", "I became addicted to painkillers after an injury.",
              "I owe money to a dealer.", "I tried to stop using but the cravings came back.",
              "I get high before lectures.", "I started with marijuana and now I use stronger stuff."],
}

SHARED = ["I can't sleep at night.", "My grades are dropping.", "I feel stressed all the time.",
          "I haven't told my parents.", "I am scared of what people will think.", "It started after a breakup.",
          "I feel alone in my hostel.", "Money has been a problem this year."]


def text_for(label: str) -> tuple[str, str]:
    own = rng.sample(SENTENCES[label], k=rng.choice([1, 1, 2, 3]))
    if rng.random() < 0.5:
        own.insert(rng.randrange(len(own) + 1), rng.choice(SHARED))
    if rng.random() < 0.35:
        other = rng.choice(CONFUSER[label])
        own.insert(rng.randrange(len(own) + 1), rng.choice(SENTENCES[other]))
    parts = [rng.choice(OPENERS), *own, rng.choice(CLOSERS)]
    title = rng.choice(TITLES[label]) if rng.random() < 0.6 else rng.choice(GENERIC_TITLES)
    return title, " ".join(p for p in parts if p)


def rows(n: int, prefix: str) -> list[dict[str, str]]:
    labels = [lab for lab, p in PRIOR.items() for _ in range(round(p * n))]
    rng.shuffle(labels)
    out = []
    for i, lab in enumerate(labels):
        title, content = text_for(lab)
        out.append({"id": f"{prefix}_{i:04d}", "title": title, "content": content, "target": lab})
    return out


def main() -> None:
    """Regenerate the packaged sample corpus (deterministic: the same seed gives the same files)."""
    assets = Path(__file__).resolve().parents[1] / "src" / "dlplayground" / "data" / "assets"
    train = rows(400, "demo_train")
    test = rows(100, "demo_test")
    with (assets / "gods_sample_train.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "title", "content", "target"])
        writer.writeheader()
        writer.writerows(train)
    with (assets / "gods_sample_test.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "title", "content"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("id", "title", "content")} for r in test)


if __name__ == "__main__":
    main()
