using System.CommandLine;
using System.CommandLine.Help;
using Blip2.Cli.Commands;
using Blip2Compiler;

namespace Blip2.Cli;

/// <summary>
/// The blip2 command line, runnable in-process: results on <c>stdout</c>; notes, progress and errors on
/// <c>stderr</c>. A user mistake gives one line <c>blip2: error: …</c> and exit code 2 (the command line), 1 (files,
/// model, images) or 130 (interrupted), never a stack trace.
/// </summary>
public static class Cli
{
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliContext(stdout, stderr, Console.OpenStandardInput, Interactive: ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
        {
            // The console's own reader: on a terminal it edits the line as it is typed.
            InputText = () => Console.In, InputIsTerminal = !Console.IsInputRedirected,
        }, cancellationToken);

    /// <param name="stdin">Opens the stream <c>-</c> reads an image from (the process's stdin by default).</param>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<Stream> stdin, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliContext(stdout, stderr, stdin, Interactive: ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected), cancellationToken);

    /// <summary>A run with its context given, e.g. stderr taken for a terminal (tests of the progress bar).</summary>
    internal static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var (stdout, stderr) = (context.Out, context.Error);
        try
        {
            var root = BuildRoot(context);
            // `blip2` alone, like `blip2 help`, prints the help.
            var parse = root.Parse(args.Length == 0 ? ["--help"] : args);
            if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
            {
                var command = parse.CommandResult.Command == root ? "blip2" : "blip2 " + parse.CommandResult.Command.Name;
                return Fail(stderr, $"{parse.Errors[0].Message} (see {command} --help)", ExitCodes.Usage);
            }
            var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Blip2Exception or IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, e.Message, ExitCodes.For(e));
        }
        catch (OperationCanceledException)
        {
            return Fail(stderr, "interrupted", ExitCodes.Interrupted);
        }
    }

    private static Command BuildRoot(CliContext context)
    {
        var common = new CommonOptions();
        // A plain command named blip2, not a RootCommand: that one takes its name from the executable (Blip2.Cli, or
        // testhost in tests) and usage lines would say so.
        var root = new Command("blip2", "BLIP-2 from the command line: caption images, answer questions about them, match them with texts, embed both.\n"
            + "Exit codes: 0 success, 1 a file or input failed (image, model folder, generation_config.json), 2 the command line is wrong, 130 interrupted.")
        {
            new HelpOption(),
        };
        common.AddTo(root);
        root.Subcommands.Add(CaptionCommand.Create(common, context));
        root.Subcommands.Add(AskCommand.Create(common, context));
        root.Subcommands.Add(ChatCommand.Create(common, context));
        root.Subcommands.Add(MatchCommand.Create(common, context));
        root.Subcommands.Add(EmbedCommand.Create(common, context));
        root.Subcommands.Add(ServeCommand.Create(common, context));
        root.Subcommands.Add(ConvertCommand.Create(common, context));
        root.Subcommands.Add(JobCommand.Create(common, context));
        root.Subcommands.Add(MergeCommand.Create(common, context));
        root.Subcommands.Add(HelpCommand(root, context));
        return root;
    }

    /// <summary><c>blip2 help [command]</c>: the same help as <c>blip2 [command] --help</c>.</summary>
    private static Command HelpCommand(Command root, CliContext context)
    {
        var topic = new Argument<string?>("command") { Description = "The command to explain.", Arity = ArgumentArity.ZeroOrOne };
        var help = new Command("help", "Show help for blip2 or one of its commands.") { topic };
        help.SetAction(parse =>
        {
            var name = parse.GetValue(topic);
            if (name is not null && root.Subcommands.All(c => c.Name != name))
                throw new UsageException($"no command '{name}': the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))}");
            var again = root.Parse(name is null ? ["--help"] : [name, "--help"]);
            return again.Invoke(new InvocationConfiguration { Output = context.Out, Error = context.Error });
        });
        return help;
    }

    internal static int Fail(TextWriter stderr, string message, int exitCode)
    {
        stderr.WriteLine("blip2: error: " + OneLine(message));
        return exitCode;
    }

    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
