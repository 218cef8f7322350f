#!/usr/bin/env python3
"""Diarization benchmark: DER, speakers found, speed and memory on the shared interview.

    .venv/bin/python bench/bench_diarization.py [--media M.mp4 --rttm M.rttm --truth M.truth.json]
                                                [--tile 10] [--no-memory] [--rounds 3]

DER is frame-based (10 ms), with no collar and the best one-to-one speaker
mapping (Hungarian). The reference speaks from each RTTM turn's start to its
end, except for the pauses inside turns that truth.json lists under "pauses":
those are neither speech nor silence and are left out of the score.

The encoder cost: the CPU seconds the speaker encoder (features and
network, nothing else) spends on the same speech regions, CAM++ (the
diarizer's) against resemblyzer (the encoder before it), in alternating
rounds of this one process; a ratio, since the machine is shared.

The memory check runs diarize_file (which streams the audio from ffmpeg) in
a child process on the audio once and on N passes of it at slightly
different tempos, and compares the peak RSS of the two.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "bench"
FRAME = 0.01

from bench_real import read_rttm  # noqa: E402  (one RTTM reader for the benches)


def _frames(turns, n: int) -> np.ndarray:
    """Per-frame speaker index (-1 silence) and the names, for non-overlapping turns."""
    names = sorted({t[2] for t in turns})
    lab = np.full(n, -1, int)
    for start, end, who in turns:
        lab[int(round(start / FRAME)) : int(round(end / FRAME))] = names.index(who)
    return lab, names


class _Timed:
    """An encoder whose `features` and `embed` add their process CPU time to `used`."""

    def __init__(self, encoder):
        self.encoder, self.dim, self.name, self.used = encoder, encoder.dim, encoder.name, 0.0

    def _run(self, fn, *args):
        t = time.process_time()
        try:
            return fn(*args)
        finally:
            self.used += time.process_time() - t

    def features(self, samples):
        return self._run(self.encoder.features, samples)

    def embed(self, regions):
        return self._run(self.encoder.embed, regions)


def encoder_cpu(
    audio: np.ndarray, names=("campplus", "campplus-torch", "resemblyzer"), rounds: int = 2
) -> dict[str, float]:
    """Median CPU seconds each encoder spends embedding the diarizer's windows of `audio` (VAD excluded).
    "campplus-torch" is CAM++ with its trunk on torch (the reference) instead of ONNX Runtime."""
    from pipeline.speakers.diarize import _Analysis
    from pipeline.speakers.embed import CampplusEncoder, WindowEmbedder, get_encoder

    encoders = {n: CampplusEncoder("torch") if n == "campplus-torch" else get_encoder(n) for n in names}
    spent: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in names:
            timed = _Timed(encoders[name])
            analysis = _Analysis()
            analysis.embedder = WindowEmbedder(encoder=name.removesuffix("-torch"))
            analysis.embedder.encoder = timed
            step = 30 * 16000
            for at in range(0, len(audio), step):
                analysis.feed(audio[at : at + step])
            analysis.finish()
            spent[name].append(timed.used)
    return {n: float(np.median(v)) for n, v in spent.items()}


def der(reference, hypothesis, excluded=(), duration: float | None = None) -> dict:
    """Frame DER with optimal mapping. Each turn is (start, end, label)."""
    from scipy.optimize import linear_sum_assignment

    end = max([t[1] for t in reference] + [t[1] for t in hypothesis] + [duration or 0.0])
    n = int(np.ceil(end / FRAME)) + 1
    ref, ref_names = _frames(reference, n)
    hyp, hyp_names = _frames(hypothesis, n)
    scored = np.ones(n, bool)
    for a, b in excluded:
        scored[int(round(a / FRAME)) : int(round(b / FRAME))] = False
    ref, hyp = ref[scored], hyp[scored]
    speech = ref >= 0
    miss = int(np.sum(speech & (hyp < 0)))
    fa = int(np.sum(~speech & (hyp >= 0)))
    both = speech & (hyp >= 0)
    conf_matrix = np.zeros((len(ref_names), max(1, len(hyp_names))), int)
    np.add.at(conf_matrix, (ref[both], hyp[both]), 1)
    rows, cols = linear_sum_assignment(-conf_matrix)
    correct = int(conf_matrix[rows, cols].sum())
    confusion = int(both.sum()) - correct
    total = int(speech.sum())
    return {
        "der": (miss + fa + confusion) / max(1, total),
        "miss": miss / max(1, total),
        "false_alarm": fa / max(1, total),
        "confusion": confusion / max(1, total),
        "ref_speech_s": total * FRAME,
        "mapping": {ref_names[r]: hyp_names[c] for r, c in zip(rows, cols, strict=True) if c < len(hyp_names)},
    }


def _long_input(media: Path, copies: int, tmp: Path) -> Path:
    """`copies` passes of the media back to back, each at a slightly different tempo.

    Exact copies would not do: a chunk repeated verbatim ten times is more
    alike than any two real utterances and can pass for a speaker of its
    own. Tempo 0.90-1.17 keeps each voice but makes every pass new audio.
    """
    from media.binaries import ffmpeg_exe

    parts = []
    for i, tempo in enumerate(np.linspace(0.9, 1.17, copies)):
        part = tmp / f"part{i}.wav"
        cmd = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(media), "-vn"]
        cmd += ["-af", f"atempo={tempo:.3f}", "-ar", "16000", "-ac", "1", str(part)]
        subprocess.run(cmd, check=True)
        parts.append(part)
    listing = tmp / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    out = tmp / f"long{copies}.m4a"
    cmd = [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0"]
    cmd += ["-i", str(listing), "-c:a", "aac", "-b:a", "64k", str(out)]
    subprocess.run(cmd, check=True)
    for p in parts:
        p.unlink()
    return out


def _peak_rss_child(media: Path, copies: int) -> dict:
    """Run diarize_file on `copies` passes of `media` in a fresh process; report its peak RSS."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from pipeline.speakers.diarize import diarize_file
t = time.perf_counter()
turns = diarize_file(sys.argv[1])
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "turns": len(turns), "speakers": len({{x.label for x in turns}}),
                  "audio_end_s": max((x.end for x in turns), default=0.0),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    with tempfile.TemporaryDirectory() as tmp:
        src = media if copies == 1 else _long_input(media, copies, Path(tmp))
        out = subprocess.run([sys.executable, "-c", code, str(src)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", type=Path, default=SHARED / "htp_interview.mp4")
    ap.add_argument("--rttm", type=Path)
    ap.add_argument("--truth", type=Path)
    ap.add_argument("--tile", type=int, default=10, help="passes of the audio for the memory check")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-encoders", action="store_true", help="skip the CAM++ / resemblyzer CPU comparison")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a report")
    ap.add_argument("--rounds", type=int, default=3, help="alternating diarization/transcription pairs timed")
    args = ap.parse_args()
    stem = args.media.with_suffix("")
    rttm = args.rttm or stem.with_suffix(".rttm")
    truth_path = args.truth or Path(f"{stem}.truth.json")

    from media.audio import load_audio
    from pipeline.speakers.diarize import diarize
    from pipeline.speakers.embed import get_encoder
    from pipeline.speakers.segmentation import load_model
    from pipeline.speakers.vad import _session

    t0 = time.perf_counter()
    _session()
    get_encoder()
    load_model()  # the segmentation model too: its loading was timed as diarization
    load_s = time.perf_counter() - t0

    audio = load_audio(args.media)
    audio_s = len(audio) / 16000
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else {}
    reference = read_rttm(rttm)
    n_ref = len({t[2] for t in reference})

    # The transcription of the same audio, timed in this run, for the stage's share of the ingest.
    # Diarization and transcription alternate (--rounds pairs) and the share is of their medians,
    # so a change of the machine's load or a first call's warm-up hits both sides alike.
    from pipeline.asr import TranscribeOptions, load_engine

    engine = load_engine()
    diar_times, asr_times = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        turns = diarize(audio)
        diar_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.transcribe(audio, TranscribeOptions())
        asr_times.append(time.perf_counter() - t0)
    diar_s, asr_s = float(np.median(diar_times)), float(np.median(asr_times))
    hyp = [(t.start, t.end, t.label) for t in turns]
    score = der(reference, hyp, truth.get("pauses", []), audio_s)
    found = len({t.label for t in turns})

    forced = {}
    for k in (2, 4):
        ft = diarize(audio, num_speakers=k)
        forced[k] = len({t.label for t in ft})

    report = {
        "media": str(args.media),
        "audio_s": round(audio_s, 2),
        "diarization_s": round(diar_s, 3),
        "realtime_x": round(audio_s / diar_s, 1),
        "transcription_s": round(asr_s, 2),
        "rounds_s": {
            "diarization": [round(x, 2) for x in diar_times],
            "transcription": [round(x, 2) for x in asr_times],
        },
        "ingest_share": round(diar_s / (diar_s + asr_s), 3),
        "model_load_s": round(load_s, 2),
        "der": round(score["der"], 4),
        "miss": round(score["miss"], 4),
        "false_alarm": round(score["false_alarm"], 4),
        "confusion": round(score["confusion"], 4),
        "speakers_found": found,
        "speakers_true": n_ref,
        "forced_2_gives": forced[2],
        "forced_4_gives": forced[4],
        "mapping": score["mapping"],
    }
    if not args.no_encoders:
        cpu = encoder_cpu(audio)
        report["encoder_cpu_s"] = {k: round(v, 2) for k, v in cpu.items()}
        report["encoder_cpu_ratio"] = round(cpu["campplus"] / max(cpu["resemblyzer"], 1e-9), 2)
    if not args.no_memory:
        one = _peak_rss_child(args.media, 1)
        many = _peak_rss_child(args.media, args.tile)
        report["memory"] = {
            "1x": one,
            f"{args.tile}x": many,
            "rss_growth": round(many["peak_rss_mb"] / one["peak_rss_mb"], 3),
        }
    report["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    if args.json:
        print(json.dumps(report))
        return 0
    print(f"media            {report['media']}")
    print(f"audio seconds    {audio_s:.1f}")
    print(f"diarization s    {diar_s:.2f}  ({report['realtime_x']}x realtime; models loaded once in {load_s:.2f} s)")
    print(
        f"ingest share     {report['ingest_share']:.1%} of diarization + transcription "
        f"(faster-whisper base, same audio; medians of {args.rounds} alternating "
        f"rounds: diarization {', '.join(f'{x:.1f}' for x in diar_times)} s, transcription "
        f"{', '.join(f'{x:.1f}' for x in asr_times)} s)"
    )
    print(
        f"DER              {score['der']:.2%}  (miss {score['miss']:.2%}, false alarm "
        f"{score['false_alarm']:.2%}, confusion {score['confusion']:.2%}; no collar, pauses excluded)"
    )
    print(f"speakers found   {found} without a hint (reference: {n_ref})")
    print(f"num_speakers=2   -> {forced[2]} speakers; num_speakers=4 -> {forced[4]} speakers")
    print(f"mapping          {score['mapping']}")
    if "encoder_cpu_s" in report:
        c = report["encoder_cpu_s"]
        print(
            f"encoder CPU      CAM++ {c['campplus']:.2f} s (its trunk on torch {c['campplus-torch']:.2f} s), "
            f"resemblyzer {c['resemblyzer']:.2f} s for the same "
            f"windows ({report['encoder_cpu_ratio']:.2f}x; median of alternating rounds, VAD excluded)"
        )
    if "memory" in report:
        m = report["memory"]
        for key in ("1x", f"{args.tile}x"):
            r = m[key]
            print(
                f"memory {key:>4}      peak RSS {r['peak_rss_mb']:.0f} MB, {r['seconds']:.1f} s for "
                f"~{r['audio_end_s']:.0f} s of audio, {r['speakers']} speakers (diarize_file, streamed)"
            )
        print(f"RSS growth       {m['rss_growth']:.2f}x for {args.tile}x the audio")
    ok = score["der"] <= 0.10 and found == n_ref and report["ingest_share"] <= 0.25
    print("floors           " + ("met" if ok else "NOT met") + " (DER <= 10 %, speakers found, <= 25 % of ingest)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
