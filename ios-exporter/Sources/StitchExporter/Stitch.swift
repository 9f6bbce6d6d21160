import StitchOTLP
import StitchSchema
