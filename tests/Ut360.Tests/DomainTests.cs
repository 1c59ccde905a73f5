using Ut360.Data.Domain;

namespace Ut360.Tests;

public sealed class DomainTests
{
    [Theory]
    [InlineData("84912345678")]
    [InlineData("84388000001")]
    public void An_msisdn_encrypts_to_a_24_character_isdn_that_decrypts_back(string msisdn)
    {
        using var cipher = new IsdnCipher();
        var isdn = cipher.Encrypt(msisdn);
        Assert.Equal(24, isdn.Length);
        Assert.True(IsdnCipher.LooksLikeIsdn(isdn));
        Assert.Equal(msisdn, cipher.Decrypt(isdn));
        Assert.Equal(isdn, cipher.Encrypt(msisdn));
    }

    [Fact]
    public void Another_key_gives_another_isdn()
    {
        using var demo = new IsdnCipher();
        using var other = new IsdnCipher("000102030405060708090a0b0c0d0e0f");
        Assert.NotEqual(demo.Encrypt("84912345678"), other.Encrypt("84912345678"));
    }

    [Theory]
    [InlineData("0912345678", "84912345678")]
    [InlineData("+84912345678", "84912345678")]
    [InlineData(" 84912345678 ", "84912345678")]
    [InlineData("12345", null)]
    [InlineData("09123abc78", null)]
    [InlineData("", null)]
    public void Phone_numbers_are_normalised_to_84_form(string input, string? expected) =>
        Assert.Equal(expected, IsdnCipher.NormaliseMsisdn(input));

    [Theory]
    [InlineData("++/hZFPrCDRre55vsZqqxQ==", true)]
    [InlineData("++/hZFPrCDRre55vsZqqxQ=", false)]
    [InlineData("++/hZFPrCDRre55vsZq*xQ==", false)]
    [InlineData("ut360:rec:*", false)]
    public void Only_the_shape_of_an_encrypted_isdn_is_accepted(string value, bool expected) =>
        Assert.Equal(expected, IsdnCipher.LooksLikeIsdn(value));

    [Fact]
    public void The_design_example_scores_70_and_90_give_priority_63_and_index_score_0_63()
    {
        Assert.Equal(63m, Priority.Score(70, 90));
        Assert.Equal(0.63, Priority.IndexScore(70, 90), 10);
        Assert.Equal("HIGH", Priority.Label(63m));
    }

    [Theory]
    [InlineData(60.0, "HIGH")]
    [InlineData(59.99, "MEDIUM")]
    [InlineData(35.0, "MEDIUM")]
    [InlineData(34.99, "LOW")]
    [InlineData(null, "LOW")]
    public void Priority_labels_follow_the_documented_thresholds(double? score, string label) =>
        Assert.Equal(label, Priority.Label(score is { } s ? (decimal)s : null));
}
