using Blip2.Cli;

using var cancel = new CancellationTokenSource();
// The first Ctrl-C stops the run after the batch in progress (what was done is written; exit 130); a second one
// ends the process at once.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancel.IsCancellationRequested;
    cancel.Cancel();
};
return await Cli.RunAsync(args, Console.Out, Console.Error, cancel.Token);
