"""Sequence classification: labelled series and texts -> a recurrent classifier, beside
classical references.

`data` (Sequences, splits, named datasets), `tsfile` (UCR/UEA `.ts`), `tables` (CSV/TSV),
`encoding` (vocabulary or channel statistics, from the training part only), `model`
(SequenceClassifierNet), `recipe` (the automatic choice), `train` (the fit loop),
`references` (majority, TF-IDF + logistic regression, MiniRocket or its fallback), `run`
(`run_classify`, `predict_with`) and `estimator` (`SequenceClassifier`: fit / predict on
lists of texts or arrays, over `run_classify`). The config is
`rnnkit.config.ClassifyConfig`. Importing this package loads nothing heavy; torch comes
with `model`, `train`, `run` and `estimator`.
"""
