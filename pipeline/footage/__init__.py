"""From hits to footage: clips and reels, quote sheets, editor timelines, Word transcripts."""
