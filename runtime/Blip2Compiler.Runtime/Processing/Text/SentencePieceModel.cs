using Google.Protobuf;

namespace Blip2Compiler.Processing;

/// <summary>
/// The parts of a SentencePiece <c>ModelProto</c> (<c>spiece.model</c>) this library needs, read with Google.Protobuf's
/// wire reader (the generated classes are internal to Microsoft.ML.Tokenizers). Field numbers are those of
/// sentencepiece's <c>sentencepiece_model.proto</c>.
/// </summary>
internal sealed class SentencePieceModel
{
    public const int NormalPiece = 1, UnknownPiece = 2, ControlPiece = 3, UserDefinedPiece = 4, UnusedPiece = 5, BytePiece = 6;
    public const int UnigramModel = 1;

    // ModelProto
    private const int PiecesField = 1, TrainerSpecField = 2, NormalizerSpecField = 3;
    // ModelProto.SentencePiece
    private const int PieceField = 1, ScoreField = 2, TypeField = 3;
    // TrainerSpec
    private const int ModelTypeField = 3, ByteFallbackField = 35, UnkIdField = 40, BosIdField = 41, EosIdField = 42, PadIdField = 43;
    private const int UnkPieceField = 45, BosPieceField = 46, EosPieceField = 47, PadPieceField = 48;
    // NormalizerSpec
    private const int NameField = 1, CharsmapField = 2, AddDummyPrefixField = 3, RemoveExtraWhitespacesField = 4, EscapeWhitespacesField = 5;

    private byte[] _bytes = [];

    public List<(string Piece, float Score, int Type)> Pieces { get; } = [];

    // Defaults are the proto's own.
    public int ModelType { get; private set; } = UnigramModel;
    public int UnkId { get; private set; }
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public int PadId { get; private set; } = -1;
    public bool ByteFallback { get; private set; }
    public byte[] PrecompiledCharsmap { get; private set; } = [];
    public bool AddDummyPrefix { get; private set; } = true;
    public bool RemoveExtraWhitespaces { get; private set; } = true;

    /// <summary>The file it was read from (for error messages).</summary>
    public string Path { get; private init; } = "";

    public static SentencePieceModel Parse(byte[] bytes, string path)
    {
        var model = new SentencePieceModel { _bytes = bytes, Path = path };
        try
        {
            var input = new CodedInputStream(bytes);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case PiecesField: model.Pieces.Add(ReadPiece(input.ReadBytes())); break;
                    case TrainerSpecField: model.ReadTrainerSpec(input.ReadBytes()); break;
                    case NormalizerSpecField: model.ReadNormalizerSpec(input.ReadBytes()); break;
                    default: input.SkipLastField(); break;
                }
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TokenizerFileException(path, "not a SentencePiece model (invalid protobuf: " + e.Message + ")", e);
        }

        if (model.Pieces.Count == 0)
            throw new TokenizerFileException(path, "SentencePiece model has no pieces");
        if (model.ModelType != UnigramModel)
            throw new TokenizerFileException(path, $"SentencePiece model_type {model.ModelType} is not supported (only Unigram, 1)");
        if (model.UnkId < 0 || model.UnkId >= model.Pieces.Count)
            throw new TokenizerFileException(path, $"unk_id {model.UnkId} is outside the {model.Pieces.Count} pieces");
        foreach (var (name, id) in new[] { ("bos_id", model.BosId), ("eos_id", model.EosId), ("pad_id", model.PadId) })
            if (id >= model.Pieces.Count)
                throw new TokenizerFileException(path, $"{name} {id} is outside the {model.Pieces.Count} pieces");
        return model;
    }

    /// <summary>
    /// The model as Microsoft.ML.Tokenizers 2.0.1 can load it. Its Unigram model indexes its reverse vocabulary with
    /// bos_id and eos_id unchecked, so T5's <c>bos_id = -1</c> throws IndexOutOfRangeException. We alias a missing
    /// BOS/EOS to an existing control id (EOS, else UNK) by appending a second TrainerSpec: protobuf merges repeated
    /// message fields, so only those two fields change. The alias is harmless because we never let the library add
    /// BOS/EOS (special tokens are added by <see cref="TextTokenizer"/>), and <see cref="ITextTokenizer.BosTokenId"/>
    /// still reports the model's own value.
    /// </summary>
    public byte[] BytesForMicrosoftMLTokenizers()
    {
        if (BosId >= 0 && EosId >= 0) return _bytes;

        int aliasId = EosId >= 0 ? EosId : UnkId;
        string aliasPiece = Pieces[aliasId].Piece;
        var patch = new MessageWriter();
        if (BosId < 0) patch.Int32(BosIdField, aliasId).String(BosPieceField, aliasPiece);
        if (EosId < 0) patch.Int32(EosIdField, aliasId).String(EosPieceField, aliasPiece);
        return [.. _bytes, .. new MessageWriter().Message(TrainerSpecField, patch).ToArray()];
    }

    /// <summary>A Unigram <c>ModelProto</c> from the parts a <c>tokenizer.json</c> holds.</summary>
    public static byte[] BuildUnigram(
        IReadOnlyList<(string Piece, float Score, int Type)> pieces, int unkId, int bosId, int eosId, int padId, bool byteFallback,
        ReadOnlySpan<byte> precompiledCharsmap, bool addDummyPrefix, bool removeExtraWhitespaces)
    {
        var model = new MessageWriter();
        foreach (var (piece, score, type) in pieces)
            model.Message(PiecesField, new MessageWriter().String(PieceField, piece).Float(ScoreField, score).Int32(TypeField, type));

        var trainer = new MessageWriter().Int32(ModelTypeField, UnigramModel).Bool(ByteFallbackField, byteFallback)
            .Int32(UnkIdField, unkId).Int32(BosIdField, bosId).Int32(EosIdField, eosId).Int32(PadIdField, padId)
            .String(UnkPieceField, pieces[unkId].Piece);
        if (bosId >= 0) trainer.String(BosPieceField, pieces[bosId].Piece);
        if (eosId >= 0) trainer.String(EosPieceField, pieces[eosId].Piece);
        if (padId >= 0) trainer.String(PadPieceField, pieces[padId].Piece);
        model.Message(TrainerSpecField, trainer);

        var normalizer = new MessageWriter().String(NameField, precompiledCharsmap.IsEmpty ? "identity" : "precompiled")
            .Bytes(CharsmapField, precompiledCharsmap).Bool(AddDummyPrefixField, addDummyPrefix)
            .Bool(RemoveExtraWhitespacesField, removeExtraWhitespaces).Bool(EscapeWhitespacesField, true);
        model.Message(NormalizerSpecField, normalizer);
        return model.ToArray();
    }

    private static (string, float, int) ReadPiece(ByteString bytes)
    {
        string piece = "";
        float score = 0;
        int type = NormalPiece;
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case PieceField: piece = input.ReadString(); break;
                case ScoreField: score = input.ReadFloat(); break;
                case TypeField: type = input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        return (piece, score, type);
    }

    private void ReadTrainerSpec(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case ModelTypeField: ModelType = input.ReadEnum(); break;
                case ByteFallbackField: ByteFallback = input.ReadBool(); break;
                case UnkIdField: UnkId = input.ReadInt32(); break;
                case BosIdField: BosId = input.ReadInt32(); break;
                case EosIdField: EosId = input.ReadInt32(); break;
                case PadIdField: PadId = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
    }

    private void ReadNormalizerSpec(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case CharsmapField: PrecompiledCharsmap = input.ReadBytes().ToByteArray(); break;
                case AddDummyPrefixField: AddDummyPrefix = input.ReadBool(); break;
                case RemoveExtraWhitespacesField: RemoveExtraWhitespaces = input.ReadBool(); break;
                default: input.SkipLastField(); break;
            }
        }
    }

    /// <summary>Writes one protobuf message field by field.</summary>
    private sealed class MessageWriter
    {
        private readonly MemoryStream _stream = new();
        private readonly CodedOutputStream _output;

        public MessageWriter() => _output = new CodedOutputStream(_stream, leaveOpen: true);

        public MessageWriter Int32(int field, int value) { _output.WriteTag(field, WireFormat.WireType.Varint); _output.WriteInt32(value); return this; }
        public MessageWriter Bool(int field, bool value) { _output.WriteTag(field, WireFormat.WireType.Varint); _output.WriteBool(value); return this; }
        public MessageWriter Float(int field, float value) { _output.WriteTag(field, WireFormat.WireType.Fixed32); _output.WriteFloat(value); return this; }
        public MessageWriter String(int field, string value) { _output.WriteTag(field, WireFormat.WireType.LengthDelimited); _output.WriteString(value); return this; }
        public MessageWriter Bytes(int field, ReadOnlySpan<byte> value) { _output.WriteTag(field, WireFormat.WireType.LengthDelimited); _output.WriteBytes(ByteString.CopyFrom(value)); return this; }
        public MessageWriter Message(int field, MessageWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray()
        {
            _output.Flush();
            return _stream.ToArray();
        }
    }
}
