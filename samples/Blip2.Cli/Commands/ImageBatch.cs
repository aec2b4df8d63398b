using Blip2Compiler.Processing;

namespace Blip2.Cli.Commands;

/// <summary>
/// One batch of images through the model, where an image that cannot be decoded fails alone: it is taken out and
/// the rest of the batch runs again (decoding comes before any model work, so a retry costs only the decoding).
/// Any other error is the run's, not an image's, and propagates.
/// </summary>
internal static class ImageBatch
{
    /// <returns>Results by index in <paramref name="batch"/>, and the images that failed, by name.</returns>
    public static (Dictionary<int, T> Results, Dictionary<string, ImageDecodeException> Failures) Run<T>(
        ImageInput[] batch, Func<IReadOnlyList<ImageSource>, IReadOnlyList<T>> work, bool failFast)
    {
        var results = new Dictionary<int, T>();
        var failures = new Dictionary<string, ImageDecodeException>(StringComparer.Ordinal);
        var pending = Enumerable.Range(0, batch.Length).ToList();
        while (pending.Count > 0)
        {
            try
            {
                var outputs = work([.. pending.Select(i => batch[i].Source)]);
                for (int j = 0; j < pending.Count; j++) results[pending[j]] = outputs[j];
                break;
            }
            catch (ImageDecodeException e) when (pending.Any(i => batch[i].Name == e.ImageName))
            {
                failures[e.ImageName] = e;
                pending.RemoveAll(i => batch[i].Name == e.ImageName);
                if (failFast) break;
            }
        }
        return (results, failures);
    }
}
