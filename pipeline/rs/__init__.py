"""``tianci rs --config configs/rs_tiny.yaml``: rejection-sampling rounds (as in Llama 2 and RAFT).

Round 0 evaluates the starting generator. Each round r = 1..R then

1. **samples**: for every training prompt, K constrained candidates from the current generator (batched by
   shape), scored by the scorer; candidates failing an objective check are out (the gate), and so, with
   ``repetition_gate``, are those repeating characters more than the prompt's median candidate
                                                                      -> ``round_r/samples.jsonl``
   then, prompt by prompt, the candidate reaching ``threshold`` with the best overall score less ``diversity``
   times its bigram overlap with the samples kept before is kept (``pipeline.rs.selection``)
2. **data**: the kept samples as hinted exchanges, mixed with a replay of the original sft data
   (``replay`` exchanges per kept sample)                             -> ``round_r/train.jsonl``
3. **finetune**: LoRA sft on them (``lyrics.training.generator``, its config built in memory; with
   ``stages.sft.kl_weight``, a KL anchor to the round's starting model), merged
                                                                      -> ``round_r/sft/final``, ``round_r/model``
4. **evaluate** on held-out prompts: mean score per aspect, distinct-1/2, the share of candidates with a line
   written twice, the checks' pass rate, validation perplexity     -> ``round_r/eval.jsonl``, ``metrics.json``
5. **promote or not** (``pipeline.rs.selection.promotion``): the round's model becomes the current one (the next
   round's starting point) only if its held-out overall rises beyond a bootstrap interval and the diversity
   limits hold, or the ratings store's blind comparisons of the two say so; ``metrics.json`` and the report
   say which model won and why.

then ``report.md`` and ``metrics.png`` are rewritten. Training prompts are titles of train-split works;
held-out prompts are titles of valid-split works, so they never feed training (nor the scorer, which trains
on train-split works). Selection reads only the current round's samples. Every step is resumable: samples
and evaluations are appended one prompt group at a time and fsynced (a re-run skips the ids already there and
cuts a partial last line), the data and metrics files are written whole and renamed, the finetune resumes from
its checkpoint, and a round with ``metrics.json`` is done. A kill at any point loses nothing and duplicates
nothing.

Query expansion (``prompts.expand: true``): the topic given to the generator is enriched with imagery mined
from the corpus (:mod:`lyrics.data.expansion`); the scorer still judges against the user's topic. Round 0 then
evaluates both, to measure its effect.
"""
