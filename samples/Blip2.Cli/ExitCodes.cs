using Blip2Compiler;
using Blip2Compiler.Generation;

namespace Blip2.Cli;

/// <summary>0 success; 1 the run failed on its inputs (files, model, images); 2 the command line is wrong.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;

    /// <summary>Option values the runtime rejects (device, dtype, quantization, generation options) are usage errors too.</summary>
    public static int For(Exception error) => error switch
    {
        UsageException or InvalidGenerationOptionException or InvalidDeviceException or UnsupportedDTypeException
            or Blip2Compiler.Nn.Quantization.UnsupportedQuantizationException => Usage,
        _ => Failure,
    };
}
