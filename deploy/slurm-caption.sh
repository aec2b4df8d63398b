#!/usr/bin/env bash
# N array tasks caption a folder of WebDataset shards: the same contract as the Kubernetes Indexed Job. Slurm sets
# SLURM_ARRAY_TASK_ID / _MIN / _STEP / _COUNT and each task takes its share of the input units.
# A failed task (exit 1: an unreadable shard) is resubmitted with `sbatch --array=<its id> deploy/slurm-caption.sh`;
# it skips the parts it already wrote. When all are done:  blip2 merge "$PARTS" --output captions.parquet
#SBATCH --job-name=blip2-caption
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=24G
#SBATCH --time=04:00:00
#SBATCH --output=logs/blip2-caption-%A_%a.log
set -euo pipefail
SHARDS=${SHARDS:-/data/shards}
PARTS=${PARTS:-/data/parts}
MODEL=${MODEL:-/models/blip2-opt-2.7b}
exec blip2 job caption "$SHARDS" --output-dir "$PARTS" --model "$MODEL" --threads "${SLURM_CPUS_PER_TASK:-4}" --batch-size 8
