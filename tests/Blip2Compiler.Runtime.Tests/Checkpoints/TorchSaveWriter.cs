using System.IO.Compression;
using System.Text;
using Blip2Compiler.Checkpoints;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>
/// Writes what <c>torch.save(state_dict, f)</c> writes (torch/serialization.py <c>_save</c>, protocol 2), from the
/// format's spec: a zip of uncompressed records <c>{folder}/data.pkl</c>, <c>{folder}/byteorder</c>,
/// <c>{folder}/data/{key}</c>, <c>{folder}/version</c>; the pickle an <c>OrderedDict</c> built by REDUCE, each tensor
/// <c>_rebuild_tensor_v2((storage persistent id), offset, size, stride, False, OrderedDict())</c>, with the memo
/// (BINPUT/BINGET) torch's pickler uses for repeated globals and strings. Tests only: the reader is checked against
/// real torch-saved files too (tests/fixtures/torch).
/// </summary>
internal static class TorchSaveWriter
{
    /// <summary>A tensor as a view of a storage: <c>storage[offset:]</c> through <paramref name="Stride"/>.</summary>
    public sealed record View(string Key, string Storage, long Offset, long[] Shape, long[] Stride);

    /// <summary>Each tensor its own contiguous storage, in the dictionary's order.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, string folder = "archive")
    {
        var storages = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var views = new List<View>();
        var i = 0;
        foreach (var (key, tensor) in tensors)
        {
            var name = (i++).ToString();
            storages[name] = tensor.contiguous().reshape(-1);
            var shape = tensor.shape;
            var stride = new long[shape.Length];
            long s = 1;
            for (var d = shape.Length - 1; d >= 0; d--) { stride[d] = s; s *= shape[d]; }
            views.Add(new View(key, name, 0, shape, stride));
        }
        Write(path, storages, views, folder);
    }

    /// <summary>Storages (flat tensors) by record key, and the state dict's tensors as views of them.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> storages, IReadOnlyList<View> views, string folder = "archive",
        Func<byte[], byte[]>? editPickle = null)
    {
        var pickle = editPickle is null ? Pickle(storages, views) : editPickle(Pickle(storages, views));
        using var file = new FileStream(path, FileMode.Create);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var stream = zip.CreateEntry(folder + "/" + name, CompressionLevel.NoCompression).Open();
            stream.Write(bytes);
        }
        Add("data.pkl", pickle);
        Add("byteorder", "little"u8.ToArray());
        foreach (var (key, storage) in storages)
        {
            using var cpu = storage.cpu().contiguous();
            Add("data/" + key, cpu.bytes.ToArray());
        }
        Add("version", "3\n"u8.ToArray());
    }

    public static byte[] Pickle(IReadOnlyDictionary<string, Tensor> storages, IReadOnlyList<View> views)
    {
        var p = new PickleBuilder();
        p.Proto();
        p.Global("collections", "OrderedDict");
        p.Op(')').Op('R');
        p.Op('(');
        foreach (var view in views)
        {
            var storage = storages[view.Storage];
            p.Unicode(view.Key);
            p.Global("torch._utils", "_rebuild_tensor_v2");
            p.Op('(');
            p.Op('(').Unicode("storage").Global("torch", StorageName(storage.dtype)).Unicode(view.Storage).Unicode("cpu").Int(storage.NumberOfElements).Op('t');
            p.Op('Q');
            p.Int(view.Offset).Tuple(view.Shape).Tuple(view.Stride).Op(0x89);
            p.Global("collections", "OrderedDict");
            p.Op(')').Op('R');
            p.Op('t').Op('R');
        }
        p.Op('u').Op('.');
        return p.ToArray();
    }

    public static string StorageName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "FloatStorage", ScalarType.Float16 => "HalfStorage", ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Float64 => "DoubleStorage", ScalarType.Int64 => "LongStorage", ScalarType.Int32 => "IntStorage",
        ScalarType.Int8 => "CharStorage", ScalarType.Byte => "ByteStorage", ScalarType.Bool => "BoolStorage",
        _ => throw new ArgumentException(type.ToString()),
    };

    /// <summary>Protocol-2 opcodes, memoizing globals and strings as Python's pickler does.</summary>
    public sealed class PickleBuilder
    {
        private readonly MemoryStream _out = new();
        private readonly Dictionary<string, int> _memo = [];

        public PickleBuilder Proto() { _out.WriteByte(0x80); _out.WriteByte(2); return this; }

        public PickleBuilder Op(char op) => Op((byte)op);

        public PickleBuilder Op(byte op) { _out.WriteByte(op); return this; }

        public PickleBuilder Raw(byte[] bytes) { _out.Write(bytes); return this; }

        public PickleBuilder Global(string module, string name)
        {
            if (Get("g:" + module + "." + name)) return this;
            Raw(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
            return Put("g:" + module + "." + name);
        }

        public PickleBuilder Unicode(string text)
        {
            if (Get("s:" + text)) return this;
            var bytes = Encoding.UTF8.GetBytes(text);
            Op('X').Raw(BitConverter.GetBytes((uint)bytes.Length)).Raw(bytes);
            return Put("s:" + text);
        }

        public PickleBuilder Int(long value)
        {
            if (value is >= 0 and < 256) return Op('K').Op((byte)value);
            if (value is >= 0 and < 65536) return Op('M').Raw(BitConverter.GetBytes((ushort)value));
            if (value is >= int.MinValue and <= int.MaxValue) return Op('J').Raw(BitConverter.GetBytes((int)value));
            var bytes = BitConverter.GetBytes(value);
            var length = 8;
            while (length > 1 && bytes[length - 1] == 0 && (bytes[length - 2] & 0x80) == 0) length--;
            return Op(0x8a).Op((byte)length).Raw(bytes[..length]);
        }

        public PickleBuilder Tuple(long[] values)
        {
            switch (values.Length)
            {
                case 0: return Op(')');
                case 1: Int(values[0]); return Op(0x85);
                case 2: Int(values[0]); Int(values[1]); return Op(0x86);
                case 3: Int(values[0]); Int(values[1]); Int(values[2]); return Op(0x87);
                default:
                    Op('(');
                    foreach (var v in values) Int(v);
                    return Op('t');
            }
        }

        private bool Get(string key)
        {
            if (!_memo.TryGetValue(key, out var index)) return false;
            Op('h').Op((byte)index);
            return true;
        }

        private PickleBuilder Put(string key)
        {
            if (_memo.Count < 256)
            {
                _memo[key] = _memo.Count;
                Op('q').Op((byte)(_memo.Count - 1));
            }
            return this;
        }

        public byte[] ToArray() => _out.ToArray();
    }
}
