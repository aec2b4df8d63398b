using Blip2.Cli;

using var cancel = new CancellationTokenSource();
// The first Ctrl-C stops the run at the next decoding step of the batch in progress (what was done before it is
// written; exit 130); a second one ends the process at once.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancel.IsCancellationRequested;
    cancel.Cancel();
};
return await Cli.RunAsync(args, Console.Out, Console.Error, cancel.Token);
