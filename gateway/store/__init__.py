"""The durable store: people, credentials, consent, codes, events, alerts, audit and outbox.

Start-up: `store.open_store(config) -> Store` (key, engine, checks, backup, Alembic to head).
Every repository function takes a SQLAlchemy Session; open one with `Store.sessions.reading()`
or `Store.sessions.writing()` (commits at the end of the block; BEGIN IMMEDIATE on SQLite).

Modules, by what the access service needs:
  people         check_access, validity_reason, valid_at_clause, add/upsert_person, schedules
  credentials    find_card_holder, check_pin, set_pin, add_card, record/withdraw consent,
                 store_face_template (consent and a non-face credential required)
  visitor_codes  issue_visitor_code, redeem_visitor_code (atomic), revoke_visitor_code
  gallery_load   load_gallery_rows (valid people, running model only), fill_gallery
  watchlist      upsert/remove/load watch-list entries, sync_version, advance_sync_version
  events         record_access_event (event + outbox row, one transaction), outbox reads/acks,
                 recent_door_events, recent_denials
  alerts_audit   raise_alert, acknowledge_alert, open_alerts, append_audit (append-only)
  erasure        erase_person, erase_and_purge (pseudonymise history, zero freed pages)
  key_rotation   rotate_template_key (re-seal templates under a new key id)
"""
