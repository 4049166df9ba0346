//! The growth schedule (§3, App. A.1): train 4×4 for `stable` images, then for each further
//! resolution fade its layers in over `fade` images (α rising linearly from 0 to 1) and train it
//! stable for `stable` images; the last resolution stays stable for the rest of the run. The
//! paper used 800k images per phase, the authors' code 600k (`lod_training_kimg`,
//! `lod_transition_kimg`).
//!
//! The stage is a function of the images seen only, so a resumed run grows exactly where an
//! uninterrupted one would.

/// Where training is: resolution `4·2^stage`, fade-in `alpha` ∈ [0, 1] of that stage's layers
/// (1: the new layers alone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Growths so far (0: 4×4).
    pub stage: i64,
    /// The new layers' weight in the fade-in.
    pub alpha: f64,
}

impl Growth {
    /// The resolution G draws and D reads at this stage.
    pub fn resolution(&self) -> i64 {
        4 << self.stage
    }
}

/// Growth in images seen: `stages` growths (the final resolution is `4·2^stages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Growths in all.
    pub stages: i64,
    /// Images over which each new resolution fades in.
    pub fade_images: u64,
    /// Images each resolution then trains at full weight.
    pub stable_images: u64,
}

impl Schedule {
    /// The stage and α after `images` training images.
    pub fn at(&self, images: u64) -> Growth {
        let full = Growth { stage: self.stages, alpha: 1.0 };
        if images < self.stable_images || self.stages == 0 {
            return if self.stages == 0 { full } else { Growth { stage: 0, alpha: 1.0 } };
        }
        let period = self.fade_images + self.stable_images;
        if period == 0 {
            return full;
        }
        let t = images - self.stable_images;
        let stage = (t / period) as i64 + 1;
        if stage > self.stages {
            return full;
        }
        let r = t % period;
        let alpha = if r < self.fade_images { r as f64 / self.fade_images as f64 } else { 1.0 };
        Growth { stage, alpha }
    }

    /// Images after which the final resolution trains with α = 1.
    pub fn images_to_full(&self) -> u64 {
        if self.stages == 0 {
            return 0;
        }
        self.stable_images
            + self.stages as u64 * self.fade_images
            + (self.stages as u64 - 1) * self.stable_images
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phases_by_hand() {
        let s = Schedule { stages: 2, fade_images: 100, stable_images: 50 };
        let at = |i| {
            let g = s.at(i);
            (g.stage, g.alpha)
        };
        assert_eq!(at(0), (0, 1.0));
        assert_eq!(at(49), (0, 1.0));
        assert_eq!(at(50), (1, 0.0)); // 8×8 fades in
        assert_eq!(at(75), (1, 0.25));
        assert_eq!(at(150), (1, 1.0)); // 8×8 stable
        assert_eq!(at(200), (2, 0.0));
        assert_eq!(at(250), (2, 0.5));
        assert_eq!(at(300), (2, 1.0));
        assert_eq!(at(10_000), (2, 1.0));
        assert_eq!(s.images_to_full(), 300);
        assert_eq!(
            Schedule { stages: 0, fade_images: 9, stable_images: 9 }.at(0),
            Growth { stage: 0, alpha: 1.0 }
        );
        assert_eq!(Schedule { stages: 3, fade_images: 0, stable_images: 0 }.at(0).stage, 3);
    }

    proptest! {
        /// The stage never shrinks, α stays in [0, 1], and within a stage α never decreases.
        #[test]
        fn monotone(stages in 0i64..6, fade in 0u64..500, stable in 0u64..500, a in 0u64..5000, d in 0u64..500) {
            let s = Schedule { stages, fade_images: fade, stable_images: stable };
            let (g1, g2) = (s.at(a), s.at(a + d));
            prop_assert!((0.0..=1.0).contains(&g1.alpha));
            prop_assert!(g1.stage <= g2.stage && g2.stage <= stages);
            if g1.stage == g2.stage {
                prop_assert!(g1.alpha <= g2.alpha);
            }
            prop_assert_eq!(s.at(s.images_to_full() + d), Growth { stage: stages, alpha: 1.0 });
        }
    }
}
