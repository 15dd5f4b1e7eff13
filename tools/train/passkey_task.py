"""The passkey retrieval task (Mohtashami & Jaggi 2023; the Samba paper's section 4): filler text
repeated, "The pass key is NNNNN. Remember it. NNNNN is the pass key." at some depth, and a
question at the end whose answer is the key. Tokens are ASCII characters (id = byte value).

`TASK` is written to the model directory as passkey.json; `samba passkey` builds its prompts from
that file by the same rules as `make_prompt` here (tests/tool checks the two agree).
"""

import math
import random

TASK = {
    "tokenizer": "ascii",
    "filler": ["The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ", "There and back again. "],
    "key": "The pass key is {key}. Remember it. {key} is the pass key. ",
    "question": "What is the pass key? The pass key is ",
    "digits": 5,
}


def encode(text):
    return [ord(ch) for ch in text]


def make_prompt(context, depth, key, task=TASK):
    """The prompt of about `context` tokens (whole filler sentences) with `key` after a fraction
    `depth` in [0, 1] of the filler, and the answer's tokens. Filler sentences cycle in order."""
    filler = task["filler"]
    key_text = task["key"].format(key=key)
    budget = max(0, context - len(key_text) - len(task["question"]))
    before_chars = int(math.floor(depth * budget + 0.5))  # half away from zero, as samba passkey rounds
    parts, used, i = [], 0, 0
    while used + len(filler[i % len(filler)]) <= before_chars:
        parts.append(filler[i % len(filler)])
        used += len(filler[i % len(filler)])
        i += 1
    parts.append(key_text)
    while used + len(filler[i % len(filler)]) <= budget:
        parts.append(filler[i % len(filler)])
        used += len(filler[i % len(filler)])
        i += 1
    parts.append(task["question"])
    return "".join(parts), key


def random_key(rng, digits=TASK["digits"]):
    return str(rng.randrange(10 ** (digits - 1), 10 ** digits))


def training_example(rng, context, depth, questions=1, first_adjacent=False):
    """A training sequence of about `context` tokens: the key after a fraction `depth` of the
    filler, then `questions` question-answer pairs ("... The pass key is NNNNN. "), the last at the
    end and the others at random places after the key (the first right after it when
    first_adjacent, where attention alone can copy the key). Returns the token ids and the index
    of each answer's first token."""
    key = random_key(rng)
    filler = TASK["filler"]
    key_text = TASK["key"].format(key=key)
    answer = key + ". "
    budget = max(0, context - len(key_text) - questions * (len(TASK["question"]) + len(answer)))
    key_at = int(math.floor(depth * budget + 0.5))
    points = sorted(rng.randint(key_at, budget) for _ in range(questions - 1)) + [budget]
    if first_adjacent:
        points[0] = key_at
    text, starts, used, i = [], [], 0, 0
    pending = [("key", key_at)] + [("question", p) for p in points]
    while pending:
        kind, at = pending[0]
        sentence = filler[i % len(filler)]
        if used + len(sentence) <= at:  # whole filler sentences up to the next insertion point
            text.append(sentence)
            used += len(sentence)
            i += 1
            continue
        pending.pop(0)
        if kind == "key":
            text.append(key_text)
        else:
            text.append(TASK["question"])
            starts.append(sum(len(t) for t in text))
            text.append(answer if pending else answer.rstrip())
    return encode("".join(text)), starts


def fixtures():
    """Prompts for the C++ test (tests/data/passkey/prompts.json): samba passkey must build the same."""
    cases = []
    for context in (64, 100, 333, 1000):
        for depth in (0.0, 0.25, 0.37, 0.5, 1.0):
            key = random_key(random.Random(context * 10 + int(depth * 100)))
            prompt, _ = make_prompt(context, depth, key)
            cases.append({"context": context, "depth": depth, "key": key, "prompt": prompt})
    return {"task": TASK, "cases": cases}


if __name__ == "__main__":
    import json
    import sys
    if sys.argv[1:] != ["--fixtures"]:
        sys.exit("usage: passkey_task.py --fixtures > tests/data/passkey/prompts.json")
    json.dump(fixtures(), sys.stdout, indent=1)
    sys.stdout.write("\n")
