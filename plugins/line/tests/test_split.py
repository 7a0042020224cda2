"""Splitting long texts into LINE text objects, counted in UTF-16 units."""

import unittest

import support  # noqa: F401  (puts the plugin on sys.path)
from omni_line import split


class SplitTest(unittest.TestCase):
    def test_units_count_astral_characters_twice(self):
        self.assertEqual(split.units("a"), 1)
        self.assertEqual(split.units("あ"), 1)
        self.assertEqual(split.units("🍎"), 2)
        self.assertEqual(split.units("👋🏻"), 4)
        self.assertEqual(split.units("𠀋"), 2)

    def test_short_texts_stay_whole_and_blank_ones_vanish(self):
        self.assertEqual(split.pieces("hello"), ["hello"])
        self.assertEqual(split.pieces("a" * 5000), ["a" * 5000])
        self.assertEqual(split.pieces("  \n "), [])
        self.assertEqual(split.pieces(""), [])

    def test_long_texts_break_at_lines_then_spaces(self):
        text = "a" * 3000 + "\n" + "b" * 3000
        self.assertEqual(split.pieces(text), ["a" * 3000, "b" * 3000])
        words = "word " * 2500
        parts = split.pieces(words)
        self.assertEqual(len(parts), 3)
        self.assertTrue(all(split.units(p) <= 5000 and not p.startswith(" ") for p in parts))
        self.assertTrue(all(p.endswith("word") for p in parts[:2]))
        self.assertEqual(sum(len(p) for p in parts), len(words) - 2)

    def test_a_break_early_in_the_window_is_not_used(self):
        text = "x\n" + "y" * 6000
        parts = split.pieces(text)
        self.assertEqual([split.units(p) for p in parts], [5000, 1002])
        self.assertEqual("".join(parts), text)

    def test_unbroken_text_is_cut_hard_without_splitting_characters(self):
        text = "🍎" * 3000  # 6000 units
        parts = split.pieces(text)
        self.assertEqual([split.units(p) for p in parts], [5000, 1000])
        self.assertEqual("".join(parts), text)
        odd = "a" + "🍎" * 2500  # a surrogate pair straddles unit 5000
        parts = split.pieces(odd)
        self.assertEqual([split.units(p) for p in parts], [4999, 2])
        self.assertEqual("".join(parts), odd)


if __name__ == "__main__":
    unittest.main()
