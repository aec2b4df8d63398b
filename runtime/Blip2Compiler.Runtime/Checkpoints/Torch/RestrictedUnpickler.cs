using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints.Torch;

/// <summary>A storage a tensor's persistent id names: the archive record <c>data/{Key}</c> of <see cref="ElementCount"/> elements.</summary>
internal sealed record StorageRef(string Key, ScalarType DType, long ElementCount, string Location);

/// <summary>What <c>torch._utils._rebuild_tensor_v2</c> would build: a strided view of a storage.</summary>
internal sealed record TensorRef(StorageRef Storage, long StorageOffset, long[] Shape, long[] Stride);

/// <summary>A Python dict or <c>collections.OrderedDict</c>, in insertion order.</summary>
internal sealed class PickleDict
{
    private readonly Dictionary<object, int> _index = [];

    public List<(object Key, object? Value)> Items { get; } = [];

    /// <summary>Python's <c>d[key] = value</c>: a key set again keeps its place and takes the new value.</summary>
    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out var at)) Items[at] = (key, value);
        else
        {
            _index[key] = Items.Count;
            Items.Add((key, value));
        }
    }
}

/// <summary>A global the unpickler allows, as a value (it is only ever matched by name, never looked up or run).</summary>
internal sealed record PickleGlobal(string Module, string Name);

/// <summary>
/// A pickle reader for tensor state dicts that executes nothing: the opcodes protocols 2–5 use for dicts, tuples,
/// lists, strings, numbers and references, and only the globals <c>torch.save(state_dict)</c> writes —
/// <c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor(_v2)</c>, <c>_rebuild_parameter(_with_state)</c>
/// and the typed storage classes — each interpreted here, as torch's own <c>weights_only</c> unpickler
/// (<c>torch/_weights_only_unpickler.py</c>) interprets its allowlist. Any other global is a
/// <see cref="PickleGlobalNotAllowedException"/> naming it, the moment it is read; an opcode outside that set (the
/// ones that build objects: <c>INST</c>, <c>OBJ</c>, <c>NEWOBJ</c>, extensions, buffers) or a malformed stream is a
/// <see cref="CheckpointFormatException"/> naming the opcode and its byte.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private static readonly HashSet<(string, string)> Functions =
    [
        ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ];

    public static string AllowedText { get; } =
        string.Join(", ", Functions.Select(f => f.Item1 + "." + f.Item2)) + " and torch's typed storages (torch.FloatStorage, …)";

    private readonly string _file;
    private readonly string _what;
    private readonly byte[] _data;
    private int _at;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private RestrictedUnpickler(string file, string what, byte[] data)
    {
        _file = file;
        _what = what;
        _data = data;
    }

    /// <summary>Reads one pickle (<paramref name="what"/> names it in errors, e.g. <c>archive/data.pkl</c>).</summary>
    public static object? Load(string file, string what, byte[] data) => new RestrictedUnpickler(file, what, data).Run();

    private object? Run()
    {
        while (true)
        {
            if (_at >= _data.Length) throw Bad("the pickle ends without its STOP opcode (truncated?)", _data.Length);
            var position = _at;
            var op = _data[_at++];
            switch (op)
            {
                case 0x80: Take(1); break;                                    // PROTO
                case 0x95: Take(8); break;                                    // FRAME (a length hint; the data is all here)
                case (byte)'.':                                               // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Bad($"STOP with {_stack.Count} values on the stack", position);
                    return _stack[0];
                case (byte)'(': _marks.Add(_stack.Count); break;              // MARK
                case (byte)'}': Push(new PickleDict()); break;                // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;             // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;          // EMPTY_TUPLE
                case (byte)'t': Push(PopMark(position).ToArray()); break;     // TUPLE
                case 0x85: Push(new[] { Pop(position) }); break;              // TUPLE1
                case 0x86: { var b = Pop(position); var a = Pop(position); Push(new[] { a, b }); break; }               // TUPLE2
                case 0x87: { var c = Pop(position); var b = Pop(position); var a = Pop(position); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'l': Push(PopMark(position)); break;               // LIST
                case (byte)'d': { var items = PopMark(position); var dict = new PickleDict(); SetItems(dict, items, position); Push(dict); break; } // DICT
                case (byte)'a': { var v = Pop(position); ListAt(position).Add(v); break; }                           // APPEND
                case (byte)'e': { var items = PopMark(position); ListAt(position).AddRange(items); break; }          // APPENDS
                case (byte)'s': { var v = Pop(position); var k = Pop(position); SetItems(DictAt(position), [k, v], position); break; } // SETITEM
                case (byte)'u': { var items = PopMark(position); SetItems(DictAt(position), items, position); break; } // SETITEMS
                case (byte)'0': Pop(position); break;                         // POP
                case (byte)'1': PopMark(position); break;                     // POP_MARK
                case (byte)'2': Push(Peek(position)); break;                  // DUP
                case (byte)'q': _memo[Take(1)[0]] = Peek(position); break;    // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(position); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(position); break;        // MEMOIZE
                case (byte)'h': Push(Memo(Take(1)[0], position)); break;      // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), position)); break; // LONG_BINGET
                case (byte)'K': Push((long)Take(1)[0]); break;                // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;  // BININT
                case 0x8a: Push(Long(Take(Take(1)[0]), position)); break;     // LONG1
                case (byte)'N': Push(null); break;                            // NONE
                case 0x88: Push(true); break;                                 // NEWTRUE
                case 0x89: Push(false); break;                                // NEWFALSE
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;          // BINFLOAT
                case (byte)'X': Push(Text(Take(Length32(position)), position)); break;               // BINUNICODE
                case 0x8c: Push(Text(Take(Take(1)[0]), position)); break;     // SHORT_BINUNICODE
                case 0x8d: Push(Text(Take(Length64(position)), position)); break;                    // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(Length32(position)))); break;    // BINSTRING (Python 2 str)
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(Take(1)[0]))); break;            // SHORT_BINSTRING
                case (byte)'B': Push(Take(Length32(position)).ToArray()); break;                     // BINBYTES
                case (byte)'C': Push(Take(Take(1)[0]).ToArray()); break;      // SHORT_BINBYTES
                case 0x8e: Push(Take(Length64(position)).ToArray()); break;   // BINBYTES8
                case (byte)'c': Push(Global(Line(position), Line(position))); break;       // GLOBAL
                case 0x93:                                                    // STACK_GLOBAL
                {
                    var name = Pop(position) as string ?? throw Bad("STACK_GLOBAL's name is not a string", position);
                    var module = Pop(position) as string ?? throw Bad("STACK_GLOBAL's module is not a string", position);
                    Push(Global(module, name));
                    break;
                }
                case (byte)'R': { var args = Pop(position); var callable = Pop(position); Push(Reduce(callable, args, position)); break; } // REDUCE
                case (byte)'b': { var state = Pop(position); Build(Peek(position), state, position); break; } // BUILD
                case (byte)'Q': Push(Storage(Pop(position), position)); break; // BINPERSID
                default:
                    throw Bad($"opcode 0x{op:x2} ({OpcodeName(op)}) is not one a tensor state dict uses", position);
            }
        }
    }

    private PickleGlobal Global(string module, string name)
    {
        if (Functions.Contains((module, name)) || (module == "torch" && TorchStorageTypes.TryParse(name, out _)))
            return new PickleGlobal(module, name);
        throw new PickleGlobalNotAllowedException(_file, module, name);
    }

    /// <summary>The allowed calls, interpreted: nothing named in the pickle is ever run.</summary>
    private object Reduce(object? callable, object? args, int position)
    {
        if (callable is not PickleGlobal g) throw Bad("REDUCE calls something that is not an allowed global", position);
        if (args is not object?[] a) throw Bad($"REDUCE of {g.Module}.{g.Name} without an argument tuple", position);
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
                if (a.Length != 0) throw Bad("collections.OrderedDict is called with arguments; torch.save writes it empty", position);
                return new PickleDict();
            case ("torch._utils", "_rebuild_tensor_v2") when a.Length is 6 or 7:
            case ("torch._utils", "_rebuild_tensor") when a.Length == 4:
                return Tensor(a, g.Name, position);
            case ("torch._utils", "_rebuild_parameter") when a.Length == 3:
            case ("torch._utils", "_rebuild_parameter_with_state") when a.Length == 4:
                return a[0] as TensorRef ?? throw Bad($"{g.Name} of something that is not a tensor", position);
            default:
                throw Bad($"{g.Module}.{g.Name} is called with {a.Length} arguments, which is not how torch.save calls it", position);
        }
    }

    private TensorRef Tensor(object?[] a, string function, int position)
    {
        var storage = a[0] as StorageRef ?? throw Bad($"{function}'s first argument is not a storage", position);
        if (a[1] is not long offset || offset < 0) throw Bad($"{function}'s storage offset is not a non-negative integer", position);
        var shape = Longs(a[2], "size", position);
        var stride = Longs(a[3], "stride", position);
        if (shape.Length != stride.Length) throw Bad($"{function}: size has {shape.Length} dimensions, stride {stride.Length}", position);
        return new TensorRef(storage, offset, shape, stride);
    }

    private long[] Longs(object? value, string what, int position) =>
        value is object?[] items && items.All(i => i is long n && n >= 0)
            ? items.Select(i => (long)i!).ToArray()
            : throw Bad($"a tensor's {what} is not a tuple of non-negative integers", position);

    /// <summary>BUILD sets an object's attributes: torch.save's OrderedDict carries <c>_metadata</c> (module versions)
    /// this way, which a state dict's reader ignores as Hugging Face's does. Nothing else is built.</summary>
    private void Build(object? target, object? state, int position)
    {
        if (target is PickleDict && state is PickleDict) return;
        throw Bad($"BUILD of a {Describe(target)} (only an OrderedDict's attributes are set by torch.save)", position);
    }

    /// <summary>torch.save's persistent id: <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
    private StorageRef Storage(object? id, int position)
    {
        if (id is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Bad("a persistent id that is not torch.save's ('storage', type, key, location, size)", position);
        if (t[1] is not PickleGlobal { Module: "torch" } type || !TorchStorageTypes.TryParse(type.Name, out var dtype))
            throw Bad($"a storage whose type is not one of torch's typed storages ({string.Join(", ", TorchStorageTypes.Names)})", position);
        if (t[2] is not string key || t[3] is not string location || t[4] is not long count || count < 0)
            throw Bad("a storage persistent id with a key, location or size of the wrong kind", position);
        return new StorageRef(key, dtype, count, location);
    }

    private void SetItems(PickleDict dict, List<object?> items, int position)
    {
        if (items.Count % 2 != 0) throw Bad("SETITEMS with an odd number of values", position);
        for (var i = 0; i < items.Count; i += 2)
        {
            dict.Set(items[i] ?? throw Bad("a dict key is None", position), items[i + 1]);
        }
    }

    private PickleDict DictAt(int position) => Peek(position) as PickleDict ?? throw Bad($"SETITEM(S) on a {Describe(Peek(position))}", position);

    private List<object?> ListAt(int position) => Peek(position) as List<object?> ?? throw Bad($"APPEND(S) on a {Describe(Peek(position))}", position);

    private void Push(object? value) => _stack.Add(value);

    private object? Pop(int position)
    {
        var floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Bad("an opcode pops from an empty stack", position);
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek(int position)
    {
        var floor = _marks.Count > 0 ? _marks[^1] : 0;
        return _stack.Count > floor ? _stack[^1] : throw Bad("an opcode reads an empty stack", position);
    }

    private List<object?> PopMark(int position)
    {
        if (_marks.Count == 0) throw Bad("an opcode needs a MARK and there is none", position);
        var start = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(start, _stack.Count - start);
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private object? Memo(long index, int position) =>
        _memo.TryGetValue(index, out var value) ? value : throw Bad($"memo entry {index} is read before it is written", position);

    private ReadOnlySpan<byte> Take(long count)
    {
        if (count < 0 || count > _data.Length - _at) throw Bad($"the pickle ends inside a {count}-byte operand (truncated?)", _at);
        var span = _data.AsSpan(_at, (int)count);
        _at += (int)count;
        return span;
    }

    private long Length32(int position) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4)) is var n && n <= int.MaxValue ? n : throw Bad("a string longer than 2 GB", position);

    private long Length64(int position) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8)) is var n && n <= int.MaxValue ? (long)n : throw Bad("a string longer than 2 GB", position);

    private string Line(int position)
    {
        var end = Array.IndexOf(_data, (byte)'\n', _at);
        if (end < 0) throw Bad("GLOBAL's module or name has no end of line (truncated?)", position);
        var text = Encoding.UTF8.GetString(_data, _at, end - _at);
        _at = end + 1;
        return text;
    }

    private string Text(ReadOnlySpan<byte> utf8, int position)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(utf8); }
        catch (DecoderFallbackException) { throw Bad("a string that is not UTF-8", position); }
    }

    /// <summary>LONG1: a little-endian two's-complement integer of up to 8 bytes (a state dict's sizes fit in 64 bits).</summary>
    private long Long(ReadOnlySpan<byte> bytes, int position)
    {
        if (bytes.Length > 8) throw Bad($"a {bytes.Length}-byte integer (a state dict's sizes fit in 8)", position);
        if (bytes.Length == 0) return 0;
        long value = 0;
        for (var i = bytes.Length - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        if (bytes.Length < 8 && (bytes[^1] & 0x80) != 0) value -= 1L << (8 * bytes.Length);
        return value;
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PickleDict => "dict",
        List<object?> => "list",
        object?[] => "tuple",
        TensorRef => "tensor",
        StorageRef => "storage",
        PickleGlobal g => g.Module + "." + g.Name,
        _ => value.GetType().Name,
    };

    /// <summary>Names of the opcodes refused (pickletools' names), for the error.</summary>
    private static string OpcodeName(byte op) => op switch
    {
        (byte)'i' => "INST", (byte)'o' => "OBJ", 0x81 => "NEWOBJ", 0x92 => "NEWOBJ_EX", 0x82 or 0x83 or 0x84 => "EXT",
        (byte)'P' => "PERSID", (byte)'I' => "INT", (byte)'L' => "LONG", (byte)'F' => "FLOAT", (byte)'S' => "STRING",
        (byte)'V' => "UNICODE", (byte)'p' => "PUT", (byte)'g' => "GET", 0x8b => "LONG4", 0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER", 0x98 => "READONLY_BUFFER", 0x8f => "EMPTY_SET", 0x90 => "ADDITEMS", 0x91 => "FROZENSET",
        _ => "unknown",
    };

    private CheckpointFormatException Bad(string problem, int position) => new(_file, $"{_what}: {problem} (byte {position})");
}
