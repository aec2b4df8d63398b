using System.CommandLine;
using System.CommandLine.Help;
using Blip2.Cli.Commands;
using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>
/// The blip2 command line, runnable in-process: results on <c>stdout</c>; notes, progress and errors on
/// <c>stderr</c>. A user mistake gives one line <c>blip2: error: …</c> and exit code 2 (the command line) or 1
/// (files, model, images), never a stack trace.
/// </summary>
public static class Cli
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(stdout, stderr, Interactive: ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected);
        try
        {
            var parse = BuildRoot(context).Parse(args);
            if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
                return Fail(stderr, parse.Errors[0].Message + " (see blip2 --help)", ExitCodes.Usage);
            var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Blip2Exception or IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, e.Message, ExitCodes.For(e));
        }
        catch (OperationCanceledException)
        {
            return Fail(stderr, "cancelled", ExitCodes.Failure);
        }
    }

    private static RootCommand BuildRoot(CliContext context)
    {
        var common = new CommonOptions();
        var root = new RootCommand("BLIP-2 from the command line: caption images, answer questions about them, match them with texts, embed both.");
        common.AddTo(root);
        root.Subcommands.Add(CaptionCommand.Create(common, context));
        root.Subcommands.Add(AskCommand.Create(common, context));
        root.Subcommands.Add(MatchCommand.Create(common, context));
        root.Subcommands.Add(EmbedCommand.Create(common, context));
        root.Subcommands.Add(ServeCommand.Create(common, context));
        return root;
    }

    private static int Fail(TextWriter stderr, string message, int exitCode)
    {
        var oneLine = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        stderr.WriteLine("blip2: error: " + oneLine);
        return exitCode;
    }
}
