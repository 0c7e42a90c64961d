"""Every statement the log runs on its tables (recommender.feedback.schema makes them).

The log (:mod:`recommender.feedback.log`) and the offline readers
(:mod:`recommender.feedback.offline`) share these, so a rule such as which rating decides a
song is written once. Each is a constant string with ``?`` or ``:name`` parameters: no SQL is
ever built from values. See the log's docstring for the rating semantics they implement.

Each statement is written once, in SQL that SQLite and PostgreSQL both run: the PostgreSQL
backend turns ``?``/``:name`` into ``$1, $2...`` (:func:`recommender.feedback.backends.to_postgres`).
So no ``IS ?`` (write ``(x = :p OR (x IS NULL AND CAST(:p AS INTEGER) IS NULL))``), a parameter
only tested for NULL cast to its type (PostgreSQL must know it), no sums of comparisons
(``SUM(CASE WHEN ... THEN 1 ELSE 0 END)``), no SQLite date functions on the TEXT timestamps
(``substr(created_at, 1, 10)`` is the UTC day), no bare columns beside an aggregate, an alias
on every subquery in FROM, and ``RETURNING id`` for a new row's id.
"""

from __future__ import annotations

# A message shows one answer: logging an answer with it takes it off any other query.
RELEASE_MESSAGE = "UPDATE queries SET message_id = NULL WHERE message_id = ?"
INSERT_QUERY = """
INSERT INTO queries (created_at, guild_id, channel_id, user_id, command, typed_title,
                     typed_artist, resolved_item_id, model_version, latency_ms, message_id,
                     params_json)
VALUES (:created_at, :guild_id, :channel_id, :user_id, :command, :typed_title,
        :typed_artist, :resolved_item_id, :model_version, :latency_ms, :message_id,
        :params_json)
RETURNING id
"""
INSERT_SUGGESTION = "INSERT INTO suggestions (query_id, position, item_id, score) VALUES (?, ?, ?, ?)"
FIND_QUERY_BY_MESSAGE = "SELECT id, message_id FROM queries WHERE message_id = ?"
FIND_QUERY_BY_ID = "SELECT id, message_id FROM queries WHERE id = ?"
SUGGESTION_EXISTS = "SELECT 1 FROM suggestions WHERE query_id = ? AND position = ?"
INSERT_FEEDBACK = """
INSERT INTO feedback (query_id, message_id, user_id, position, value, created_at)
VALUES (?, ?, ?, ?, ?, ?)
"""
# Retraction by message uses the message id stored on the rating itself, so a rating made
# before the message was re-attached to a newer answer can still be withdrawn.
RETRACT_BY_MESSAGE = """
UPDATE feedback SET retracted_at = :at
WHERE message_id = :target AND user_id = :user
  AND (position = :position OR (position IS NULL AND CAST(:position AS INTEGER) IS NULL))
  AND value = :value AND retracted_at IS NULL
"""
RETRACT_BY_QUERY = """
UPDATE feedback SET retracted_at = :at
WHERE query_id = :target AND user_id = :user
  AND (position = :position OR (position IS NULL AND CAST(:position AS INTEGER) IS NULL))
  AND value = :value AND retracted_at IS NULL
"""
INSERT_BLOCK = """
INSERT INTO blocks (guild_id, item_id, blocked_by, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (guild_id, item_id) DO NOTHING
"""
DELETE_BLOCK = "DELETE FROM blocks WHERE guild_id = ? AND item_id = ?"
SELECT_BLOCKS = "SELECT item_id FROM blocks WHERE guild_id = ?"

FORGET_FEEDBACK = "DELETE FROM feedback WHERE user_id = ?"
FORGET_FEEDBACK_ON_ANSWERS = "DELETE FROM feedback WHERE query_id IN (SELECT id FROM queries WHERE user_id = ?)"
FORGET_SUGGESTIONS = "DELETE FROM suggestions WHERE query_id IN (SELECT id FROM queries WHERE user_id = ?)"
FORGET_QUERIES = "DELETE FROM queries WHERE user_id = ?"
FORGET_BLOCKER = "UPDATE blocks SET blocked_by = NULL WHERE blocked_by = ?"
FORGET_LINKS = "DELETE FROM linked_accounts WHERE user_id = ?"

# Linked accounts (one per member and service); portable SQL (SQLite and PostgreSQL alike).
UPSERT_LINK = """
INSERT INTO linked_accounts (user_id, service, username, linked_at) VALUES (?, ?, ?, ?)
ON CONFLICT (user_id, service) DO UPDATE SET username = excluded.username, linked_at = excluded.linked_at
"""
DELETE_LINK = "DELETE FROM linked_accounts WHERE user_id = ? AND service = ?"
SELECT_LINK = "SELECT username, linked_at FROM linked_accounts WHERE user_id = ? AND service = ?"
SELECT_LINKS = "SELECT user_id, username FROM linked_accounts WHERE service = ? ORDER BY user_id"
# Members who asked something in a server (the retrain's opt-in is per server).
SELECT_GUILD_MEMBERS = "SELECT DISTINCT user_id FROM queries WHERE guild_id = ?"

EXPIRE_FEEDBACK = "DELETE FROM feedback WHERE query_id IN (SELECT id FROM queries WHERE created_at < ?)"
EXPIRE_SUGGESTIONS = "DELETE FROM suggestions WHERE query_id IN (SELECT id FROM queries WHERE created_at < ?)"
EXPIRE_QUERIES = "DELETE FROM queries WHERE created_at < ?"

SELECT_QUERY_BY_MESSAGE = """
SELECT id, created_at, guild_id, channel_id, user_id, command, typed_title, typed_artist,
       resolved_item_id, model_version, latency_ms, message_id, params_json
FROM queries WHERE message_id = ?
"""
SELECT_SUGGESTIONS = "SELECT position, item_id, score FROM suggestions WHERE query_id = ? ORDER BY position"

# Songs and the newest current rating touching each (see "Rating semantics" in the log's docstring).
# Statements come in pairs, one filtered and one over the whole log, because a filter written
# as "(:guild IS NULL OR guild_id = :guild)" stops SQLite from using an index: the filtered
# ones must stay fast as the log grows (they run on every /foryou), the global ones feed
# batch jobs. In each pair only the first CTE differs.

# For one member in one guild, optionally only answers for one seed. Filtering the view on
# user_id (a PARTITION BY column) lets SQLite push the filter inside its window.
MEMBER_SONG_VERDICTS = """
WITH rated AS (
    SELECT c.user_id, c.query_id, c.position, c.value, c.id
    FROM current_feedback AS c
    JOIN queries AS q ON q.id = c.query_id
    WHERE c.user_id = :user AND q.guild_id = :guild
      AND (CAST(:seed AS TEXT) IS NULL OR q.resolved_item_id = :seed)
),
touches AS (
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           1 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id AND s.position = r.position
    UNION ALL
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           0 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id
    WHERE r.position IS NULL AND r.value = 1
),
per_song_shown AS (
    -- A rating of the song itself beats a whole-message rating of the same message.
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, query_id, position ORDER BY one_by_one DESC
    ) AS pick
    FROM touches
),
newest AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, item_id ORDER BY rating_id DESC
    ) AS newest_first
    FROM per_song_shown
    WHERE pick = 1
)
SELECT user_id, item_id, value, rating_id, position
FROM newest
WHERE newest_first = 1 AND value = :value
ORDER BY user_id, rating_id DESC, position
"""

# The same verdicts for every member in every guild (the retrain feed).
ALL_SONG_VERDICTS = """
WITH rated AS (
    SELECT c.user_id, c.query_id, c.position, c.value, c.id
    FROM current_feedback AS c
),
touches AS (
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           1 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id AND s.position = r.position
    UNION ALL
    SELECT r.user_id, r.query_id, s.position, s.item_id, r.value, r.id AS rating_id,
           0 AS one_by_one
    FROM rated AS r
    JOIN suggestions AS s ON s.query_id = r.query_id
    WHERE r.position IS NULL AND r.value = 1
),
per_song_shown AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, query_id, position ORDER BY one_by_one DESC
    ) AS pick
    FROM touches
),
newest AS (
    SELECT user_id, item_id, value, rating_id, position, ROW_NUMBER() OVER (
        PARTITION BY user_id, item_id ORDER BY rating_id DESC
    ) AS newest_first
    FROM per_song_shown
    WHERE pick = 1
)
SELECT user_id, item_id, value, rating_id, position
FROM newest
WHERE newest_first = 1 AND value = :value
ORDER BY user_id, rating_id DESC, position
"""

# Per model version: answers shown (queries with suggestions) and current ratings on them.
# The guild's current ratings are computed from its own answers only (the view cannot be
# filtered by guild before its window runs); the result is the same as the view's.
GUILD_VERSION_STATS = """
WITH ratings AS (
    SELECT query_id, value FROM (
        SELECT f.query_id, f.value, ROW_NUMBER() OVER (
            PARTITION BY f.query_id, f.user_id, f.position ORDER BY f.id DESC
        ) AS newest_first
        FROM queries AS q
        JOIN feedback AS f ON f.query_id = q.id
        WHERE q.guild_id = :guild AND f.retracted_at IS NULL
    ) AS ranked
    WHERE newest_first = 1
)
SELECT q.model_version AS model_version,
       COUNT(*) AS answers,
       COALESCE(SUM(r.up), 0) AS up,
       COALESCE(SUM(r.down), 0) AS down
FROM queries AS q
LEFT JOIN (
    SELECT query_id, SUM(CASE WHEN value = 1 THEN 1 ELSE 0 END) AS up,
           SUM(CASE WHEN value = -1 THEN 1 ELSE 0 END) AS down
    FROM ratings GROUP BY query_id
) AS r ON r.query_id = q.id
WHERE q.guild_id = :guild
  AND q.model_version IS NOT NULL
  AND EXISTS (SELECT 1 FROM suggestions AS s WHERE s.query_id = q.id)
GROUP BY q.model_version
ORDER BY MIN(q.id)
"""

ALL_VERSION_STATS = """
WITH ratings AS (
    SELECT query_id, value FROM current_feedback
)
SELECT q.model_version AS model_version,
       COUNT(*) AS answers,
       COALESCE(SUM(r.up), 0) AS up,
       COALESCE(SUM(r.down), 0) AS down
FROM queries AS q
LEFT JOIN (
    SELECT query_id, SUM(CASE WHEN value = 1 THEN 1 ELSE 0 END) AS up,
           SUM(CASE WHEN value = -1 THEN 1 ELSE 0 END) AS down
    FROM ratings GROUP BY query_id
) AS r ON r.query_id = q.id
WHERE q.model_version IS NOT NULL
  AND EXISTS (SELECT 1 FROM suggestions AS s WHERE s.query_id = q.id)
GROUP BY q.model_version
ORDER BY MIN(q.id)
"""

# The label shown for a seed is the title most recently typed for it: the newest query's.
GUILD_TOP_QUERIES = """
WITH counted AS (
    SELECT resolved_item_id AS item_id, COUNT(*) AS times, MAX(id) AS newest_id
    FROM queries
    WHERE guild_id = :guild AND resolved_item_id IS NOT NULL
    GROUP BY resolved_item_id
)
SELECT c.item_id AS item_id, q.typed_title AS typed_title, q.typed_artist AS typed_artist, c.times AS times
FROM counted AS c
JOIN queries AS q ON q.id = c.newest_id
ORDER BY c.times DESC, c.newest_id DESC
LIMIT :limit
"""

ALL_TOP_QUERIES = """
WITH counted AS (
    SELECT resolved_item_id AS item_id, COUNT(*) AS times, MAX(id) AS newest_id
    FROM queries
    WHERE resolved_item_id IS NOT NULL
    GROUP BY resolved_item_id
)
SELECT c.item_id AS item_id, q.typed_title AS typed_title, q.typed_artist AS typed_artist, c.times AS times
FROM counted AS c
JOIN queries AS q ON q.id = c.newest_id
ORDER BY c.times DESC, c.newest_id DESC
LIMIT :limit
"""

# Current ratings per UTC day (the day each was made) and the version that made the answer.
GUILD_FEEDBACK_BY_DAY = """
WITH ratings AS (
    SELECT query_id, value, created_at FROM (
        SELECT f.query_id, f.value, f.created_at, ROW_NUMBER() OVER (
            PARTITION BY f.query_id, f.user_id, f.position ORDER BY f.id DESC
        ) AS newest_first
        FROM queries AS q
        JOIN feedback AS f ON f.query_id = q.id
        WHERE q.guild_id = :guild AND f.retracted_at IS NULL
    ) AS ranked
    WHERE newest_first = 1
)
SELECT substr(r.created_at, 1, 10) AS day, q.model_version AS model_version,
       SUM(CASE WHEN r.value = 1 THEN 1 ELSE 0 END) AS up,
       SUM(CASE WHEN r.value = -1 THEN 1 ELSE 0 END) AS down
FROM ratings AS r
JOIN queries AS q ON q.id = r.query_id
GROUP BY day, q.model_version
ORDER BY day, MIN(q.id)
"""

ALL_FEEDBACK_BY_DAY = """
WITH ratings AS (
    SELECT query_id, value, created_at FROM current_feedback
)
SELECT substr(r.created_at, 1, 10) AS day, q.model_version AS model_version,
       SUM(CASE WHEN r.value = 1 THEN 1 ELSE 0 END) AS up,
       SUM(CASE WHEN r.value = -1 THEN 1 ELSE 0 END) AS down
FROM ratings AS r
JOIN queries AS q ON q.id = r.query_id
GROUP BY day, q.model_version
ORDER BY day, MIN(q.id)
"""

# Members' turns (the cooldown every bot process shares). Portable SQL: a claim takes the turn
# when the member has none or theirs is over, in one statement, so two processes claiming at
# once cannot both win; the row count says whether it did.
CLAIM_TURN = """
INSERT INTO member_turns (guild_id, user_id, allowed_at) VALUES (?, ?, ?)
ON CONFLICT (guild_id, user_id) DO UPDATE SET allowed_at = excluded.allowed_at
WHERE member_turns.allowed_at <= ?
"""
SELECT_TURN = "SELECT allowed_at FROM member_turns WHERE guild_id = ? AND user_id = ?"
# Giving a turn back (the request was refused as busy) ends the running one.
GIVE_BACK_TURN = "DELETE FROM member_turns WHERE guild_id = ? AND user_id = ? AND allowed_at > ?"
EXPIRE_TURNS = "DELETE FROM member_turns WHERE allowed_at < ?"
FORGET_TURNS = "DELETE FROM member_turns WHERE user_id = ?"
