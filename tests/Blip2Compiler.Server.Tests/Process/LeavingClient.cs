using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Blip2Compiler.Server.Tests.Process;

/// <summary>
/// A client that leaves: one HTTP/1.1 request on its own socket, read as far as the caller wants, then the socket
/// closed (as a killed curl's or a closed browser tab's: a FIN, or a reset when unread bytes remain). Not <see cref="HttpClient"/>: disposing a response
/// mid-body there does not close the connection — SocketsHttpHandler drains the rest (up to MaxResponseDrainSize,
/// 1 MB, for ResponseDrainTimeout, 2 s) to put the connection back in its pool, so to the server that client is still
/// reading, and a streamed answer of 90 tokens at 20 ms a step (1.8 s) is read to its end.
/// </summary>
public sealed class LeavingClient : IDisposable
{
    private readonly Socket _socket;
    private readonly StringBuilder _received = new();

    private LeavingClient(Socket socket) => _socket = socket;

    /// <summary>Connects and sends <c>POST <paramref name="path"/></c> with <paramref name="body"/> as JSON.</summary>
    public static async Task<LeavingClient> PostAsync(Uri server, string path, JsonNode body, string? key = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(server.Host, server.Port);
            var content = Encoding.UTF8.GetBytes(body.ToJsonString());
            var head = $"POST {path} HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nContent-Length: {content.Length}\r\n"
                + (key is null ? "" : $"Authorization: Bearer {key}\r\n") + "\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(head).Concat(content).ToArray());
            return new LeavingClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Everything received so far (status line, headers, chunked body as sent).</summary>
    public string Received => _received.ToString();

    /// <summary>Reads until what was received contains <paramref name="text"/>; false if the server closed first.</summary>
    public async Task<bool> ReadUntilAsync(string text, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        while (!Received.Contains(text, StringComparison.Ordinal))
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            if (n == 0) return false;
            _received.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        return true;
    }

    /// <summary>Leaves: the socket is closed at once, whatever the server is still sending.</summary>
    public void Dispose() => _socket.Dispose();
}
