"""Developer tools (never in the production image): generator, embedded services, samples, gallery, demo, bench."""
