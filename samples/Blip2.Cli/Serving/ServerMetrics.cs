using Blip2Compiler.Serving;
using Prometheus;

namespace Blip2.Cli.Serving;

/// <summary>
/// The server's Prometheus metrics (prometheus-net, one registry per server): requests by endpoint and status,
/// latency histograms, and the engine's queue depth, running rows, tokens and steps read at every scrape
/// (tokens/s is <c>rate(blip2_generated_tokens_total[1m])</c>).
/// </summary>
public sealed class ServerMetrics
{
    private readonly Counter _requests;
    private readonly Histogram _latency;
    private readonly Histogram _queueTime;
    private readonly Counter _embedded;

    public ServerMetrics(ServedModel served)
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _requests = factory.CreateCounter("blip2_requests_total", "HTTP requests answered, by endpoint and status code.", ["endpoint", "status"]);
        _latency = factory.CreateHistogram("blip2_request_duration_seconds", "Time from request to the last byte of the answer, by endpoint.", ["endpoint"],
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });
        _queueTime = factory.CreateHistogram("blip2_queue_time_seconds", "Time a generation request waited for the engine.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        _embedded = factory.CreateCounter("blip2_embedded_inputs_total", "Texts and images embedded or matched.");
        if (served.Engine is { } engine)
        {
            var queue = factory.CreateGauge("blip2_queue_depth", "Requests waiting for the engine.");
            var maxQueue = factory.CreateGauge("blip2_queue_capacity", "Requests that may wait (--max-queue).");
            var running = factory.CreateGauge("blip2_running_rows", "Sequences being decoded now.");
            var maxBatch = factory.CreateGauge("blip2_max_batch", "Rows decoded together at most (--max-batch).");
            var tokens = factory.CreateCounter("blip2_generated_tokens_total", "Tokens generated.");
            var steps = factory.CreateCounter("blip2_decoding_steps_total", "Decoding steps run.");
            var outcomes = factory.CreateCounter("blip2_engine_requests_total", "Engine requests by outcome.", ["outcome"]);
            Registry.AddBeforeCollectCallback(() =>
            {
                var s = engine.Statistics;
                queue.Set(s.QueueDepth);
                maxQueue.Set(s.MaxQueue);
                running.Set(s.RunningRows);
                maxBatch.Set(s.MaxBatch);
                tokens.IncTo(s.GeneratedTokens);
                steps.IncTo(s.DecodingSteps);
                outcomes.WithLabels("completed").IncTo(s.CompletedRequests);
                outcomes.WithLabels("failed").IncTo(s.FailedRequests);
                outcomes.WithLabels("cancelled").IncTo(s.CancelledRequests);
                outcomes.WithLabels("rejected").IncTo(s.RejectedRequests);
            });
        }
    }

    public CollectorRegistry Registry { get; }

    public void Answered(string endpoint, int status, TimeSpan elapsed)
    {
        _requests.WithLabels(endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        _latency.WithLabels(endpoint).Observe(elapsed.TotalSeconds);
    }

    public void Completed(EngineCompletion completion) => _queueTime.Observe(completion.QueueTime.TotalSeconds);

    public void Embedded(int inputs) => _embedded.Inc(inputs);
}
