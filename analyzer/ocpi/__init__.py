"""Link C (OCPI) analysis: business state, checks and findings."""
