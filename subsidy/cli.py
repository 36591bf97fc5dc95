"""The `subsidy` command (CONTRACT.md, "Command line")."""

from __future__ import annotations

import argparse
import sys

from subsidy.core import db, logs


def main(argv: list[str] | None = None) -> int:
    logs.install()
    parser = argparse.ArgumentParser(prog="subsidy", description="清洁煤补贴管理系统 command line")
    commands = parser.add_subparsers(dest="command", required=True)

    database = commands.add_parser("db", help="database schema")
    database.add_argument("action", choices=["upgrade", "check"])

    commands.add_parser("demo", help="load the demo district (does nothing if it is already there)")

    serve = commands.add_parser("serve", help="serve the web app and the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    user = commands.add_parser("user", help="users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["village", "town", "supplier", "drc", "finance", "auditor",
                                                        "admin"])
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--town")
    scope.add_argument("--village")
    scope.add_argument("--supplier")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input (never from the command line)")
    add.add_argument("--display-name", default="", help="the person's name (default: the user name)")

    households = commands.add_parser("households", help="the household registry")
    household_commands = households.add_subparsers(dest="households_command", required=True)
    imp = household_commands.add_parser("import", help="import households and registrations from the template")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true")

    uploads = commands.add_parser("uploads", help="stored spreadsheet uploads (they hold whole ID numbers)")
    uploads.add_argument("action", choices=["purge"],
                         help="purge: delete uploads older than a day, confirmed or not (the server also does it "
                              "every hour; run it from cron where the server's loop is turned off)")

    audit_cmd = commands.add_parser("audit", help="the audit log")
    audit_cmd.add_argument("action", choices=["verify", "seal", "head"],
                           help="verify: check every entry and seal; seal: chain what was committed since the last "
                                "seal (the server also does it every few seconds); head: print the newest signed head")
    audit_cmd.add_argument("--head", metavar="SEQ:HASH", default=None,
                           help="with verify: a head printed earlier, which must still be in the log unchanged")

    backup_cmd = commands.add_parser("backup", help="write a consistent backup of the database while it serves")
    backup_cmd.add_argument("file")

    restore_cmd = commands.add_parser("restore", help="replace the database by a backup, then check it")
    restore_cmd.add_argument("file")
    restore_cmd.add_argument("--force", action="store_true", help="overwrite a database that holds data")

    keys_cmd = commands.add_parser("keys", help="the keys that encrypt ID numbers and phones at rest")
    keys_cmd.add_argument("action", choices=["check", "rotate"],
                          help="check: the configured keys open the stored rows; rotate: re-encrypt every row under "
                               "SUBSIDY_DATA_KEY (the old key in SUBSIDY_DATA_OLD_KEYS), in batches, while the app "
                               "serves")
    keys_cmd.add_argument("--batch", type=int, default=1000, help="rows per transaction when rotating")

    anomalies_cmd = commands.add_parser("anomalies", help="the anomaly rules (异常预警)")
    anomalies_cmd.add_argument("action", choices=["run"],
                               help="run: run every rule over the active season and raise flags (the server also "
                                    "does it every night; run it from cron where the server's loop is turned off)")
    anomalies_cmd.add_argument("--rule", action="append", default=None, help="run only this rule (repeatable)")

    export_cmd = commands.add_parser("export", help="write the platform data set (CSV, xlsx, manifest.json) into a "
                                                    "folder, for the nightly job (docs/platform-export.md)")
    export_cmd.add_argument("folder")
    since = export_cmd.add_mutually_exclusive_group()
    since.add_argument("--since", default=None, help="the high-water mark of the previous export (default: all)")
    since.add_argument("--mark-file", default=None,
                       help="read --since from this file if it exists, and write the new high-water mark into it "
                            "once the set is written (a nightly job passes the same file every night)")
    export_cmd.add_argument("--no-xlsx", action="store_true", help="CSV files only")

    args = parser.parse_args(argv)
    handler = {"db": _db, "demo": _demo, "serve": _serve, "user": _user, "households": _households,
               "uploads": _uploads, "audit": _audit, "backup": _backup, "restore": _restore, "keys": _keys,
               "anomalies": _anomalies, "export": _export}[args.command]
    return handler(args)


def _db(args) -> int:
    if args.action == "upgrade":
        before, after = db.upgrade()
        if before is None:
            print(f"created the database schema (migration {after})")
        elif before == after:
            print(f"database schema is already current (migration {after}); nothing to do")
        else:
            print(f"upgraded the database schema from migration {before} to {after}")
        return 0
    try:
        db.ensure_schema_current(db.get_engine())
    except db.SchemaOutdated as error:
        print(error, file=sys.stderr)
        return 1
    print("database schema is current")
    return 0


def _require_current_schema() -> bool:
    """The schema is current and the data keys open the stored rows (subsidy/core/datakeys.py)."""
    from subsidy.core import datakeys
    from subsidy.core.vault import VaultError

    try:
        db.ensure_schema_current(db.get_engine())
        datakeys.check_keys(db.get_engine())
    except (db.SchemaOutdated, VaultError) as error:
        print(error, file=sys.stderr)
        return False
    return True


def _keys(args) -> int:
    from subsidy.core import datakeys
    from subsidy.core.vault import VaultError

    if not _require_current_schema():
        return 1
    try:
        if args.action == "rotate":
            done = datakeys.rotate(db.get_engine(), batch=max(1, args.batch))
            print(f"re-encrypted under data key {done.key_id!r}: "
                  + ", ".join(f"{table} {count} row(s)" for table, count in done.rewritten.items()))
        left = datakeys.remaining(db.get_engine())
    except VaultError as error:
        print(error, file=sys.stderr)
        return 1
    print("rows under an older data key: " + ", ".join(f"{table} {count}" for table, count in left.items())
          + ("" if any(left.values()) else " (the old keys may be removed from SUBSIDY_DATA_OLD_KEYS)"))
    return 0


def _anomalies(args) -> int:
    from subsidy.oversight import anomalies

    if not _require_current_schema():
        return 1
    unknown = [r for r in args.rule or [] if r not in anomalies.RULES]
    if unknown:
        print(f"unknown rule(s): {', '.join(unknown)}; the rules: {', '.join(anomalies.RULES)}", file=sys.stderr)
        return 2
    with db.transaction() as session:
        result = anomalies.run(session, rules=args.rule)
    if result is None:
        print("no active season: nothing to check", file=sys.stderr)
        return 1
    if not result.ran:
        print("another process is running the rules right now; nothing done")
        return 0
    for name, raised in result.raised.items():
        print(f"{name}: {raised} new flag(s), {result.open[name]} open")
    return 0


def _export(args) -> int:
    from pathlib import Path

    from subsidy.core.errors import SubsidyError
    from subsidy.reports import platform

    if not _require_current_schema():
        return 1
    mark_file = Path(args.mark_file) if args.mark_file else None
    since = args.since
    if mark_file is not None and mark_file.exists():
        since = mark_file.read_text(encoding="utf-8").strip() or None
    try:
        manifest = platform.write_set(db.get_engine(), None, since, Path(args.folder), xlsx=not args.no_xlsx)
    except SubsidyError as error:
        print(error, file=sys.stderr)
        return 2
    for entry in manifest["files"]:
        print(f"{entry['file']}: rows={entry['rows']} sha256={entry['sha256']}")
    if mark_file is not None:
        mark_file.write_text(manifest["high_water_mark"] + "\n", encoding="utf-8")
    print(f"high_water_mark={manifest['high_water_mark']}")
    return 0


def _demo(args) -> int:
    from subsidy import demo

    if not _require_current_schema():
        return 1
    with db.transaction() as session:
        loaded = demo.load(session)
    print("demo district loaded" if loaded else "demo district already present: nothing to do")
    print_demo_logins()
    return 0


def print_demo_logins() -> None:
    from subsidy import demo

    towns = ", ".join(code for code, _, _ in demo.TOWNS)
    villages = ", ".join(code for code, *_ in demo.VILLAGES)
    print("Demo logins (password = user name + '-demo', e.g. admin / admin-demo):")
    print("  admin, drc, finance, auditor, coal-a, coal-b, stove-a")
    print(f"  towns: {towns}")
    print(f"  villages: {villages}")


def _serve(args) -> int:
    import uvicorn

    if not _require_current_schema():
        return 1
    uvicorn.run("web.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level="info", proxy_headers=True)
    return 0


def _user(args) -> int:
    from sqlalchemy import select

    from subsidy.accounts import users
    from subsidy.core.errors import SubsidyError
    from subsidy.models import Supplier, Town, Village

    if not _require_current_schema():
        return 1
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.transaction() as session:
            scope = {}
            for option, model, key in (("town", Town, "town_id"), ("village", Village, "village_id"),
                                       ("supplier", Supplier, "supplier_id")):
                code = getattr(args, option)
                if code:
                    found = session.execute(select(model.id).where(model.code == code)).scalar_one_or_none()
                    if found is None:
                        print(f"no {option} with code {code}", file=sys.stderr)
                        return 2
                    scope[key] = found
            user = users.create_user(session, None, username=args.name, role=args.role, password=password,
                                     display_name=args.display_name or args.name, temporary=False, **scope)
    except SubsidyError as error:
        for field, reason in error.errors.items():
            print(f"{field}: {reason}", file=sys.stderr)
        return 2
    print(f"created user {user.username} ({user.role})")
    return 0


def _households(args) -> int:
    if not _require_current_schema():
        return 1
    return import_households(args.file, dry_run=args.dry_run)


def import_households(path: str, *, dry_run: bool = False) -> int:
    """`subsidy households import FILE [--dry-run]` (CONTRACT.md): the refused rows and the totals on stdout, exit 0;
    a file that cannot be read (or a wrong header), its reason on stderr, exit 2. One transaction, rolled back for a
    dry run."""
    from subsidy.core.errors import SubsidyError
    from subsidy.registry import spreadsheet

    # Read and check the whole file first, holding no write lock (it may take a while), then write in one
    # transaction.
    reader = db.new_session(read_only=True)
    session = db.new_session(write=True)
    try:
        parsed = spreadsheet.read_file(reader, None, path)
        db.end_read(reader)
        result = spreadsheet.write_parsed(session, None, parsed)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except SubsidyError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    finally:
        reader.close()
        session.close()
    result.dry_run = dry_run
    for refusal in result.refused:
        print(f"row {refusal.row}: {refusal.field}: {refusal.reason}")
    print(result.summary())
    return 0


def _uploads(args) -> int:
    """`subsidy uploads purge`: delete stored uploads older than a day (SUBSIDY_UPLOAD_KEEP_HOURS)."""
    from subsidy.registry import spreadsheet

    if not _require_current_schema():
        return 1
    with db.transaction() as session:
        purged = spreadsheet.purge_uploads(session)
    print(f"purged {purged} upload(s)")
    return 0


def _audit(args) -> int:
    from subsidy.core import audit

    if args.action == "seal":
        with db.transaction() as session:
            made = audit.seal(session)
        print(f"sealed {len(made)} seal(s)" + (f", head {made[-1].as_text()}" if made else ": nothing new"))
        return 0
    if args.action == "head":
        with db.transaction() as session:
            audit.seal(session)
            head = audit.head_of(session)
        if head is None:
            print("the audit log has no seal yet")
            return 1
        print(f"seal {head.seq}  entries {head.entries}  sealed at {head.sealed_at:%Y-%m-%d %H:%M:%S} UTC  "
              f"key {head.key_id}\nhead      {head.as_text()}\nsignature {head.signature}")
        return 0
    expected = None
    if args.head:
        seq, _, digest = args.head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print("--head takes SEQ:HASH as `subsidy audit head` prints it")
            return 2
        expected = (int(seq), digest.lower())
    report = audit.verify_database(expected=expected)
    _print_chain(report)
    return 0 if report.ok else 1


def _print_chain(report) -> None:
    """What `audit verify` and `restore` say of the audit log."""
    if report.ok:
        print(f"audit log intact: {report.checked} entries, {report.unsealed} of them not sealed yet"
              + (f"; newest seal {report.head.as_text()}" if report.head else ""))
        return
    where = f" at entry {report.first_broken_id}" if report.first_broken_id else ""
    print(f"audit log broken{where}: {report.reason} ({report.checked} entries intact before it)")


def _backup(args) -> int:
    from subsidy.core import backup
    from subsidy.core.settings import get_settings

    try:
        size = backup.backup(get_settings().database_url, args.file)
    except backup.BackupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"backup written to {args.file} ({size} bytes)")
    return 0


def _restore(args) -> int:
    """Exit status 0 when the backup was restored and both checks hold, 1 when a check fails or the restore failed,
    2 when it was refused (the database holds data and --force was not given)."""
    from subsidy.core import backup
    from subsidy.core.settings import get_settings

    try:
        report = backup.restore(get_settings().database_url, args.file, force=args.force)
    except backup.DatabaseHasData as refusal:
        print(refusal, file=sys.stderr)
        return 2
    except backup.BackupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"restored from {args.file}")
    _print_chain(report.chain)
    print(report.schema_problem or "database schema is current")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
