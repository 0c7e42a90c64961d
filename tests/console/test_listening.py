"""The console's /link listenbrainz NAME and /unlink, as the bot's, against a fake ListenBrainz."""

from __future__ import annotations

import dataclasses
import io

from fake_listenbrainz import FakeListenBrainz, listen, running

from console.terminal import HELP, run_console


async def test_link_foryou_unlink_from_a_pipe(tmp_path, demo_env, demo_service):
    listens = [listen("Hey Ya!", "OutKast"), listen("Hello", "Adele"), listen("Umbrella", "Rihanna")] * 2
    fake = FakeListenBrainz(users={"rob": [*listens, listen("Unheard Of", "Nobody")]})
    async with running(fake):
        settings = dataclasses.replace(demo_env.config.listenbrainz, api_url=fake.url, min_interval_seconds=0.0)
        config = dataclasses.replace(
            demo_env.config,
            bot=dataclasses.replace(demo_env.config.bot, database=str(tmp_path / "log.sqlite3")),
            listenbrainz=settings,
        )
        out = io.StringIO()
        lines = "/link spotify rob\n/link listenbrainz nobody\n/link listenbrainz rob\n/foryou 3\n/unlink\n/foryou\n"
        assert await run_console(config, stdin=io.StringIO(lines), stdout=out, service=demo_service) == 0
    text = out.getvalue()
    assert "Link what? /link listenbrainz NAME" in text
    assert "error: ListenBrainz has no user called “nobody”" in text
    assert "Linked ListenBrainz account rob (7 public listens)." in text
    assert "ListenBrainz rob: 6 of your 7 latest listens matched the catalog, 3 songs." in text
    assert "Because you played " in text
    assert "Unlinked ListenBrainz account rob; /foryou uses only your 👍 again." in text
    assert text.rstrip().endswith(
        "/foryou needs at least 3. Ask /soundalike for a song you love and rate the suggestions with the 👍 buttons."
    )
    assert "/link listenbrainz NAME" in HELP and "/unlink" in HELP
