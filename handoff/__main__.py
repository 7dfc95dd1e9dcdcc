"""``python -m handoff``: serve, migrate, seed, agents add, events, report, nlu-review, simulate, predict."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from contract import redact
from handoff.analytics import metrics, prediction, review, simulate
from handoff.app import SHUTDOWN_SECONDS, create_app
from handoff.domain import auth, escalation_risk, events
from handoff.settings import Settings
from handoff.storage import agents as agent_store
from handoff.storage import escalation_model, migrate
from handoff.storage.db import Database
from handoff.storage.models import AGENT_ROLES, utcnow
from handoff.usecases import seed


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m handoff", description="Handoff gateway")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gateway (default)")
    m = sub.add_parser("migrate", help="apply database migrations")
    m.add_argument("--revision", default="head")
    m.add_argument("--downgrade", action="store_true", help="downgrade to --revision (default base)")
    sub.add_parser("seed", help="load contacts and canned replies (and, with HANDOFF_DEMO=1, the missing demo agents)")
    sub.add_parser("events", help="print the Socket.IO protocol as JSON")
    rep = sub.add_parser("report", help="print the hand-off metrics of a window as a table")
    rep.add_argument("--since", default="7d", help="window: 90m, 24h, 7d, 2w (default 7d)")
    rep.add_argument("--group-by", default="all", choices=metrics.GROUPS)
    rep.add_argument("--csv", action="store_true", help="CSV instead of the table")
    nlu = sub.add_parser("nlu-review", help="export misunderstood messages, grouped, as Rasa NLU YAML")
    nlu.add_argument("--since", default="30d", help="window (default 30d)")
    nlu.add_argument("--out", default="reports/nlu_review.yml")
    sim = sub.add_parser("simulate", help="write a realistic simulated history (demo dashboard and predictor data)")
    sim.add_argument("--days", type=int, default=30, help="days of history ending now (default 30)")
    sim.add_argument("--per-day", type=int, default=40, help="conversations a day on average (default 40)")
    sim.add_argument("--seed", type=int, default=None, help="random seed (repeatable histories)")
    sim.add_argument("--reset", action="store_true", help="remove the simulated rows (sim_*) first")
    pred = sub.add_parser("predict", help="escalation prediction").add_subparsers(dest="predict_command", required=True)
    for name, text in (("train", "train on the history before the holdout window"),
                       ("evaluate", "ROC AUC, precision/recall on the holdout window (later than training)")):
        cmd = pred.add_parser(name, help=text)
        cmd.add_argument("--since", default="60d", help="history used for training (default 60d)")
        cmd.add_argument("--holdout", default="7d", help="latest window, kept for evaluation (default 7d)")
        cmd.add_argument("--model", default=escalation_model.MODEL_PATH,
                         help=f"model file (default {escalation_model.MODEL_PATH})")
        cmd.add_argument("--threshold", type=float, default=escalation_risk.THRESHOLD,
                         help=f"offer a person above this probability (default {escalation_risk.THRESHOLD})")
    agents = sub.add_parser("agents", help="manage agents").add_subparsers(dest="agents_command", required=True)
    add = agents.add_parser("add", help="create or update an agent")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--role", choices=AGENT_ROLES, default="l2")
    add.add_argument("--team", default="general")
    add.add_argument("--skills", default="general", help="comma separated, e.g. billing,technical")
    add.add_argument(
        "--languages", default="en", help="comma separated ISO 639-1 codes the agent speaks, e.g. en,es (language routing)"
    )
    add.add_argument("--capacity", type=int, default=3)
    return p


async def _with_db(settings: Settings, action: str, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        if action == "migrate":
            if args.downgrade:
                await migrate.downgrade(db, "base" if args.revision == "head" else args.revision)
            else:
                await migrate.upgrade(db, args.revision)
            print(f"database at {settings.database_url.split('@')[-1]} migrated")
            return 0
        await migrate.upgrade(db)
        if action in ("report", "nlu-review"):
            return await _insights(db, action, args)
        if action == "simulate":
            if args.days <= 0 or args.per_day <= 0:
                print("error: --days and --per-day must be positive", file=sys.stderr)
                return 2
            if args.reset:
                print(f"removed {await simulate.reset(db)} simulated conversations")
            done = await simulate.simulate(db, args.days, args.per_day, args.seed)
            print(f"simulated {done['conversations']} conversations ({done['escalated']} escalated, "
                  f"{done['events']} events) over the last {args.days} days")
            return 0
        if action.startswith("predict"):
            return await _predict(db, args)
        if action == "seed":
            creds = await seed.seed(db, Path(settings.seed_path), demo_agents=settings.demo_mode)
            if creds:
                print("Demo agents created (log in at /console):")
            for c in creds:
                print(f"  {c['email']}  password: {c['password']}  role: {c['role']}")
            if not settings.demo_mode:
                print("No demo agents outside demo mode (HANDOFF_DEMO=1): add agents with `python -m handoff agents add`")
            return 0
        if action == "agents add":
            if len(args.password) < 8:
                print("error: password must have at least 8 characters", file=sys.stderr)
                return 2
            languages = [x.strip().lower() for x in args.languages.split(",") if x.strip()]
            if not languages or not all(len(x) == 2 and x.isascii() and x.isalpha() for x in languages):
                print("error: --languages must be two-letter codes, e.g. en,es", file=sys.stderr)
                return 2
            async with db.write() as s:
                agent = await agent_store.create_agent(
                    s,
                    email=args.email,
                    name=args.name,
                    password_hash=auth.hash_password(args.password),
                    role=args.role,
                    team=args.team,
                    skills=[x.strip() for x in args.skills.split(",") if x.strip()],
                    languages=languages,
                    capacity=args.capacity,
                )
            print(
                f"agent {agent.id} {agent.email} ({agent.role}, skills {', '.join(agent.skills)}, "
                f"languages {', '.join(agent.languages)}) saved"
            )
            return 0
    finally:
        await db.dispose()
    return 1


async def _insights(db: Database, action: str, args: argparse.Namespace) -> int:
    try:
        span = metrics.parse_window(args.since)
    except ValueError as exc:
        print(f"error: --since: {exc}", file=sys.stderr)
        return 2
    until = utcnow()
    async with db.read() as s:
        if action == "report":
            report = await metrics.metrics_for(s, until - span, until, args.group_by)
            print(metrics.to_csv(report) if args.csv else metrics.to_table(report), end="" if args.csv else "\n")
            return 0
        misses = await review.load_misses(s, until - span, until)
    groups = review.group(misses)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(review.to_rasa_yaml(groups), encoding="utf-8")
    print(f"{len(misses)} misunderstood messages in {len(groups)} groups written to {out}")
    return 0


async def _predict(db: Database, args: argparse.Namespace) -> int:
    try:
        since, holdout = metrics.parse_window(args.since), metrics.parse_window(args.holdout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if holdout >= since:
        print("error: --holdout must be shorter than --since", file=sys.stderr)
        return 2
    now = utcnow()
    if args.predict_command == "train":
        async with db.read() as s:
            samples = await prediction.load_samples(s, now - since, now - holdout)
        predictor = prediction.train(samples, args.threshold)
        path = escalation_model.save(predictor, args.model)
        state = "rule (cold start: too little history)" if predictor.cold_start else "model"
        print(f"trained on {predictor.labelled} conversations ({predictor.positives} escalated, {len(samples)} bot turns) "
              f"created before {now - holdout:%Y-%m-%d %H:%M}; saved to {path}; predictions come from: {state}")
        return 0
    predictor = escalation_model.load(args.model, args.threshold)
    start = now - holdout
    if predictor.trained_until is not None and predictor.trained_until >= start:
        start = predictor.trained_until + timedelta(seconds=1)  # never evaluate on what the model has seen
    async with db.read() as s:
        samples = await prediction.load_samples(s, start, now)
    print(prediction.format_report(prediction.evaluate(predictor, samples)))
    return 0


# Young collections every 50,000 allocations instead of 700: objects of a message in flight (alive across a
# database round trip) then die young instead of reaching the oldest generation, whose full collections,
# over a thousand connections' worth of objects, paused the gateway for 200-360 ms every few seconds.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc_for_serving() -> None:
    """Freeze what start-up made (never garbage: kept out of every later collection) and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a refused setting: say which and why, without a traceback
        print(f"handoff: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact.install(settings.redact)  # every command: HANDOFF_REDACT applies, and log lines carry no secret
    command = args.command or "serve"
    if command == "serve":
        try:
            app = create_app(settings)
        except ValueError as exc:  # no real secrets outside the loopback demo
            print(f"handoff: configuration error: {exc}", file=sys.stderr)
            return 2
        print(f"handoff gateway on http://{settings.host}:{settings.port} (customers: /, agents: /console)")
        tune_gc_for_serving()
        web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=SHUTDOWN_SECONDS)
        return 0
    if command == "events":
        print(json.dumps(events.describe(), indent=2))
        return 0
    action = {"agents": "agents add", "predict": "predict"}.get(command, command)
    return asyncio.run(_with_db(settings, action, args))


if __name__ == "__main__":
    sys.exit(main())
