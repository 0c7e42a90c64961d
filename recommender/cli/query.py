"""`python -m recommender similar|resolve|mix`: answers on the command line.

Thin: every command opens the same SoundalikeService the bot and console use. Titles and
artists come from the data, so they are untrusted: the text output goes through
:func:`recommender.text.strip_invisible` (no terminal escape sequences, line breaks or bidi overrides
reach the terminal), and the JSON output escapes such characters as ``\\uXXXX`` (the data
itself is kept exactly).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from recommender.errors import DataError
from recommender.ranking import NOVELTY_LEVELS
from recommender.results import Answer, Resolution
from recommender.text import MAX_CATALOG_CHARS, strip_invisible

# Characters a terminal acts on or hides: controls, format characters (bidi overrides,
# zero-width), line and paragraph separators, surrogates, private use, unassigned.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\ud800-\udfff\ue000-\uf8ff\U000e0000-\U000e007f\U000f0000-\U0010ffff]"
)


def shown(text: object) -> str:
    """Catalog text as the terminal may show it: one line, nothing it would act on."""
    return strip_invisible(text, MAX_CATALOG_CHARS)


def _escape(match: re.Match) -> str:
    code = ord(match[0])
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_line(value: object) -> str:
    """One JSON object on one line; characters a terminal would act on are \\u-escaped."""
    return _UNPRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def register(commands: argparse._SubParsersAction) -> None:
    similar = commands.add_parser("similar", help="songs similar to a song, with scores and reasons")
    similar.add_argument("title", help="a song title as a person would type it, or an item id")
    similar.add_argument("--artist", help="narrow the title to this artist")
    _answer_options(similar)
    similar.add_argument("--exclude-seed-artist", action="store_true", help="leave out the seed's own artist")
    similar.set_defaults(func=run_similar)

    mix = commands.add_parser("mix", help="recommendations from 2 to 5 songs together")
    mix.add_argument("titles", nargs="+", help="song titles (quote each) or item ids")
    _answer_options(mix)
    mix.set_defaults(func=run_mix)

    resolve = commands.add_parser(
        "resolve",
        help="which catalog song a typed title means",
        description="Which catalog song a typed title means. Exit status 0 when it found something: a "
        'confident match, or ("confident": false) songs to pick from; 1 when nothing matched.',
    )
    resolve.add_argument("title", nargs="?", help="the typed title")
    resolve.add_argument("--artist", help="narrow to this artist")
    resolve.add_argument("--dataset", help="dataset name (default from config)")
    resolve.add_argument("--json", action="store_true", help="print one JSON object")
    resolve.add_argument(
        "--batch",
        type=Path,
        help="resolve every line of FILE (`title` or `title<TAB>artist`), one JSON object a line",
    )
    resolve.set_defaults(func=run_resolve)


def _answer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--count", type=int, default=None, help="how many songs (default from config)")
    parser.add_argument("--dataset", help="dataset name (default from config)")
    parser.add_argument("--novelty", choices=NOVELTY_LEVELS, help="popular, balanced (default) or deep cuts")
    parser.add_argument("--per-artist-cap", type=int, help="at most this many songs per artist (0 = no cap)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _service(args):
    from recommender.service import SoundalikeService  # imported late: `resolve --help` stays instant

    return SoundalikeService.open(args.config_obj, args.dataset)


def answer_to_dict(answer: Answer) -> dict:
    return {
        "dataset": answer.dataset,
        "model_version": answer.model_version,
        "seeds": [{"item_id": s.item_id, "title": s.title, "artist": s.artist} for s in answer.seeds],
        "suggestions": [
            {
                "position": answer.offset + number,
                "item_id": s.item_id,
                "title": s.title,
                "artist": s.artist,
                "score": round(s.score, 4),
                "percent": s.percent,
                "reason": s.reason,
            }
            for number, s in enumerate(answer.suggestions, start=1)
        ],
    }


def format_answer(answer: Answer) -> str:
    """Plain text for the CLI and console: numbered songs, percentage, reason."""
    lines = []
    if answer.seeds:
        seeds = "; ".join(f"{shown(s.title)} — {shown(s.artist)}" for s in answer.seeds)
        lines.append(f"Because you asked for {seeds}:")
    if not answer.suggestions:
        lines.append("  (no suggestions left for this query)")
    for number, s in enumerate(answer.suggestions, start=answer.offset + 1):
        lines.append(f"{number:>3}. {shown(s.title)} — {shown(s.artist)}  ({s.percent}% match)")
        lines.append(f"     {shown(s.reason)}")
    lines.append(f"model {shown(answer.model_version)} on {shown(answer.dataset)}")
    return "\n".join(lines)


def format_resolution(resolution: Resolution, closest: list[str] | None = None, note: str | None = None) -> str:
    """The resolution as text: the match, or what to pick from and why; ``closest`` titles
    and ``note`` (the demo's limits) when nothing matched well."""
    if not resolution.found:
        text = f"No song matches {resolution.query!r}."
        if closest:
            text += " Closest titles: " + "; ".join(closest)
        return text + (f"\n{note}" if note else "")
    if resolution.confident:
        head = "Best match:"
    elif resolution.kind == "artist":
        head = f"{resolution.query!r} is an artist; {resolution.named_artist}'s most listened songs:"
    elif resolution.close_call:
        head = "Several songs match; which one did you mean?"
    else:
        head = f"No song is called {resolution.query!r}; did you mean one of these?"
        if note:
            head += f"\n{note}"
    lines = [head]
    for number, c in enumerate(resolution.candidates, start=1):
        lines.append(
            f"{number:>3}. {shown(c.title)} — {shown(c.artist)}  (match {c.score:.0f}, "
            f"{c.listeners:,} listeners, id {shown(c.item_id)})"
        )
    return "\n".join(lines)


def _count(args) -> int:
    return args.count if args.count is not None else args.config_obj.serving.default_count


def _print_answer(args, answer: Answer) -> int:
    print(json_line(answer_to_dict(answer)) if args.json else format_answer(answer))
    return 0


def run_similar(args) -> int:
    service = _service(args)
    seed = service.seed(args.title, args.artist)
    answer = service.similar(
        seed.item_id,
        count=_count(args),
        novelty=args.novelty,
        exclude_seed_artist=args.exclude_seed_artist,
        per_artist_cap=args.per_artist_cap,
    )
    return _print_answer(args, answer)


def run_mix(args) -> int:
    service = _service(args)
    seeds = [service.seed(title).item_id for title in args.titles]
    answer = service.mix(seeds, count=_count(args), novelty=args.novelty, per_artist_cap=args.per_artist_cap)
    return _print_answer(args, answer)


def run_resolve(args) -> int:
    from recommender.dataset import Dataset
    from recommender.search.resolver import TitleResolver, resolution_to_dict, resolve_batch
    from recommender.service import no_match_note

    if (args.title is None) == (args.batch is None):
        raise DataError("give either a TITLE or --batch FILE")
    dataset = Dataset.open(args.config_obj.datasets_dir, args.dataset or args.config_obj.data.default_dataset)
    resolver = TitleResolver.build(dataset)
    if args.batch is not None:
        try:
            lines = args.batch.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise DataError("file not found", path=args.batch) from None
        except UnicodeDecodeError as error:
            raise DataError(f"not UTF-8 (byte {error.start})", path=args.batch) from None
        for result in resolve_batch(resolver, lines):
            sys.stdout.write(json_line(result) + "\n")
        return 0
    resolution = resolver.resolve(args.title, artist=args.artist)
    # Nothing matched well: say what these data know (the demo: its shipped catalog only).
    far = not resolution.confident and not resolution.close_call and resolution.kind == "song"
    note = no_match_note(dataset) if far else None
    closest = resolver.closest_titles(args.title) if not resolution.found else []
    if args.json:
        print(
            json_line(
                {
                    **resolution_to_dict(resolution),
                    **({"closest": closest} if not resolution.found else {}),
                    **({"note": note} if note else {}),
                }
            )
        )
    else:
        print(format_resolution(resolution, closest, note))
    return 0 if resolution.found else 1
