"""Image-to-image translation GANs: pix2pix (Isola et al. 2017) and the pieces the other
paired and unpaired models share (paired data, PSNR / SSIM / L1 / FD metrics, strip writer)."""
