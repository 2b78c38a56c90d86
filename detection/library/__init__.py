"""Per-series detectors and offline pipelines: the batch / streaming contracts
(:mod:`~detection.library.base`), PCA T^2+Q, isolation forest, mean-shift changepoints,
thresholds, health index and trend RUL, the offline monitor behind ``detect csv`` and
``bench skab``, and the benchmark metrics. The streaming engine (:mod:`detection.engine`)
uses the health index and the trend RUL from here; both learn noise scales through
:mod:`detection.robust`."""
