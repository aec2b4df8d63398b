using Blip2Compiler;
using Blip2Compiler.Generation;

namespace Blip2.Cli;

/// <summary>
/// 0 success; 1 the run failed on its inputs (files, model, images, a checkpoint's generation_config.json); 2 the
/// command line is wrong; 130 interrupted (Ctrl-C, as shells report SIGINT).
/// </summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    /// <summary>
    /// Option values the runtime rejects (device, dtype, quantization, decoding bounds, a prompt too long for --max-new-tokens) are usage errors too. Generation options given on the
    /// command line are checked when read (GenerationOptionSet, a UsageException); an InvalidGenerationOptionException
    /// that reaches here came from the checkpoint's generation_config.json, an input.
    /// </summary>
    public static int For(Exception error) => error switch
    {
        UsageException or InvalidDeviceException or UnsupportedDTypeException or PromptTooLongException or DecodingTooLargeException
            or Blip2Compiler.Nn.Quantization.UnsupportedQuantizationException or Jobs.JobMismatchException => Usage,
        _ => Failure,
    };
}
